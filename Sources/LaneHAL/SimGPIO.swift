// The simulator's virtual GPIO service (docs/SIM-GPIO.md): a Unix stream socket carrying text
// lines. The simulator sends `EDGE <beam> <1|0> <tUs>` (1 = interrupted, tUs on CLOCK_MONOTONIC);
// the agent sends `SET <output> <1|0>`. Non-blocking both ways: the tick never waits on it.

import LaneCore
#if canImport(Glibc)
import Glibc
#endif

public final class SimGPIOClient: DigitalLines {
    public let path: String
    var fd: Int32 = -1
    var inbox = [UInt8](repeating: 0, count: 8192)
    var inboxCount = 0
    var lastAttemptUs: Int64 = -1_000_000_000
    public private(set) var dropCount = 0
    /// EDGE lines refused as malformed (a number too long): counted, never a crash.
    public private(set) var invalidLines = 0
    public private(set) var connectCount = 0
    var outputs = [Int8](repeating: -1, count: LaneOutput.allCases.count)
    /// The SET lines, encoded once at start-up ([output][off, on]): the tick writes them without
    /// building a string.
    let setLines: [[[UInt8]]] = LaneOutput.allCases.map { o in
        [Array("SET \(o.name) 0\n".utf8), Array("SET \(o.name) 1\n".utf8)]
    }

    public init(path: String) { self.path = path }
    deinit { Sys.close(fd) }

    public var isConnected: Bool { fd >= 0 }

    /// Connects if not connected, at most once a second; never blocks for long (a local socket).
    public func ensureConnected() {
        if fd >= 0 { return }
        let now = MonotonicClock.nowUs()
        if now - lastAttemptUs < 1_000_000 { return }
        lastAttemptUs = now
        guard let s = try? Sys.connectUnix(path, nonBlocking: true) else { return }
        fd = s
        inboxCount = 0
        connectCount += 1
        for i in outputs.indices { outputs[i] = -1 }  // resend every output after a reconnect
    }

    func disconnect() {
        Sys.close(fd)
        fd = -1
    }

    public func drainEdges(into buffer: inout EdgeBuffer) -> Int {
        ensureConnected()
        guard fd >= 0 else { return 0 }
        var dropped = 0
        while true {
            if inboxCount == inbox.count { inboxCount = 0; dropCount += 1 }  // a line too long: discard
            let r = inbox.withUnsafeMutableBytes { p in
                Result { () throws(SysError) in try Sys.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: p[inboxCount...])) }
            }
            switch r {
            case let .success(n) where n > 0: inboxCount += n; continue
            case .success: disconnect()  // end of file: the simulator went away
            case let .failure(e): if !e.wouldBlock { disconnect() }
            }
            break
        }
        // Parse complete lines.
        var start = 0
        var i = 0
        while i < inboxCount {
            if inbox[i] == 0x0A {
                if let e = parseEdge(start, i) {
                    if !buffer.append(e) { dropped += 1 }
                }
                start = i + 1
            }
            i += 1
        }
        if start > 0 {
            let rest = inboxCount - start
            for k in 0..<rest { inbox[k] = inbox[start + k] }
            inboxCount = rest
        }
        dropCount += dropped
        return dropped
    }

    func parseEdge(_ a: Int, _ b: Int) -> BeamEdge? {
        inbox.withUnsafeBufferPointer { p in
            switch EdgeLine.parse(UnsafeBufferPointer(rebasing: p[a..<b])) {
            case let .edge(e): return e
            case .invalid: invalidLines += 1; return nil
            case .other: return nil
            }
        }
    }

    /// False when the line could not be written (no connection to the simulator, a short write).
    @discardableResult
    public func set(_ output: LaneOutput, _ on: Bool) -> Bool {
        let v: Int8 = on ? 1 : 0
        if outputs[output.rawValue] == v { return true }
        guard fd >= 0 else { dropCount += 1; return false }
        let n = setLines[output.rawValue][on ? 1 : 0].withUnsafeBytes { p in (try? Sys.write(fd, p)) ?? -1 }
        if n == setLines[output.rawValue][on ? 1 : 0].count { outputs[output.rawValue] = v; return true }
        dropCount += 1
        return false
    }
}

/// One line of the simulator's GPIO socket: `EDGE <beam> <level> <tUs>`; other lines (HELLO)
/// are not edges. No allocation (it runs on the tick).
public enum EdgeLine {
    public enum Parsed: Equatable, Sendable { case edge(BeamEdge), invalid, other }

    public static func parse(_ line: UnsafeBufferPointer<UInt8>) -> Parsed {
        let n = line.count
        guard n > 5, line[0] == 0x45, line[1] == 0x44, line[2] == 0x47, line[3] == 0x45, line[4] == 0x20 else { return .other }
        var fields: InlineArray<3, Int64> = [0, 0, 0]  // not an Array: this runs on the tick
        var f = 0
        var digits = 0
        var k = 5
        while k < n && f < 3 {
            let c = line[k]
            if c >= 0x30 && c <= 0x39 {
                // At most 18 digits (below 2^63): `EDGE 0 1 99999999999999999999` trapped here.
                guard digits < 18 else { return .invalid }
                fields[f] = fields[f] * 10 + Int64(c - 0x30)
                digits += 1
            } else if c == 0x20 {
                if digits > 0 { f += 1; digits = 0 }
            } else if c != 0x0D {
                return .other
            }
            k += 1
        }
        if digits > 0 { f += 1 }
        guard f == 3, fields[0] <= 1, fields[1] <= 1 else { return .other }
        return .edge(BeamEdge(tUs: fields[2], beam: Int(fields[0]), blocked: fields[1] == 1))
    }
}
