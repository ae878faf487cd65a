// The VM-250-style text stream (docs/VM250.md) on TCP, for existing alarm-station software:
// ASCII lines of a tag and four zero-padded 6-digit fields, CRLF. The tick pushes fixed-size
// events into a bounded queue; this server's thread formats and sends them to every client
// (non-blocking: a client that cannot keep up is disconnected and counted).

import Foundation
import LaneCore
import LaneHAL
import LaneTrace

public enum VMTag: UInt8, Sendable {
    case gb, nb, gs, ga, ns, na, gx, sp, gh, gl, nh, tt, tc, cn
    var text: String {
        switch self {
        case .gb: return "GB"; case .nb: return "NB"; case .gs: return "GS"; case .ga: return "GA"
        case .ns: return "NS"; case .na: return "NA"; case .gx: return "GX"; case .sp: return "SP"
        case .gh: return "GH"; case .gl: return "GL"; case .nh: return "NH"; case .tt: return "TT"; case .tc: return "TC"; case .cn: return "CN"
        }
    }
}

/// One line to send: a tag and four integer fields (SP carries mm/s in field 0).
public struct VMEvent: Sendable {
    public var tag: VMTag
    public var fields: InlineArray<4, Int64>
    /// `CN` only: the container number (between the occupancy and the confidence fields).
    public var container: ContainerNumber? = nil
    public init(_ tag: VMTag, _ a: Int64 = 0, _ b: Int64 = 0, _ c: Int64 = 0, _ d: Int64 = 0) {
        self.tag = tag
        fields = [a, b, c, d]
    }
}

public final class VM250Server: @unchecked Sendable {
    let queue = BoundedQueue<VMEvent>(capacity: 512)
    public var dropped: Int { queue.dropped }
    public private(set) var clientsDropped = 0
    let listener: Int32
    let setupLines: [String]
    var clients: [Int32] = []
    let log: (String) -> Void

    /// Peers allowed to connect (empty: any that reaches the bound address).
    let allow: [String]
    public private(set) var clientsRefused = 0

    /// Listens on `host`:`port` (the alarm station connects to the lane; loopback by default,
    /// docs/SECURITY.md), taking only the peers in `allow` when it is not empty.
    public init(host: String = "127.0.0.1", port: Int, allow: [String] = [], setupLines: [String], log: @escaping (String) -> Void) throws {
        self.setupLines = setupLines
        self.log = log
        self.allow = allow
        let s: (fd: Int32, port: Int)
        do throws(SysError) { s = try Sys.listenTCP(host: host, port: port) } catch {
            throw ProfileError("vm250: cannot listen on \(host):\(port): \(error)")
        }
        listener = s.fd
        self.port = s.port
    }
    /// The port it listens on (the kernel's choice when 0 was asked).
    public let port: Int

    /// From the tick: a short lock, a copy into preallocated storage.
    public func push(_ e: VMEvent) { queue.push(e) }

    public func start(stop: @escaping @Sendable () -> Bool) {
        startThread(name: "vm250") { [self] in
            while !stop() {
                acceptClients()
                guard let first = queue.pop(timeoutS: 0.1) else { continue }
                var batch = [first]
                while let e = queue.tryPop() { batch.append(e) }
                let text = batch.map(Self.format).joined()
                send(text)
            }
            for c in clients { Sys.close(c) }
            Sys.close(listener)
        }
    }

    func acceptClients() {
        while true {
            let c: Int32
            do throws(SysError) {
                guard let a = try Sys.accept(listener, "vm250") else { return }
                c = a
            } catch {
                log("vm250: \(error)")
                return
            }
            if !allow.isEmpty {
                let peer = Sys.peerAddress(c) ?? "an unknown peer"
                guard allow.contains(peer) else {
                    Sys.close(c)
                    clientsRefused += 1
                    if clientsRefused <= 3 || clientsRefused % 100 == 0 {
                        log("vm250: a connection from \(peer) was refused: not in vm250.allow (\(clientsRefused) refused)")
                    }
                    continue
                }
            }
            Sys.setNoDelay(c)
            clients.append(c)
            log("vm250: a client connected (\(clients.count) now)")
            sendTo(c, setupLines.map { $0 + "\r\n" }.joined())
        }
    }

    func send(_ text: String) {
        var keep: [Int32] = []
        for c in clients { if sendTo(c, text) { keep.append(c) } else { Sys.close(c); clientsDropped += 1; log("vm250: a client went away or fell behind") } }
        clients = keep
    }

    @discardableResult
    func sendTo(_ c: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { (try? Sys.send(c, $0)) ?? -1 }
        return n == bytes.count
    }

    static func six(_ v: Int64) -> String {
        let x = max(0, min(999_999, v))
        let s = String(x)
        return String(repeating: "0", count: 6 - s.count) + s
    }

    /// One line with its CRLF.
    public static func format(_ e: VMEvent) -> String {
        if e.tag == .sp {
            // Speed from mm/s: seconds per foot, mph, km/h.
            let mmPerS = Double(e.fields[0])
            let spf = mmPerS > 0 ? 304.8 / mmPerS : 0
            return String(format: "SP,%06.4f,%05.2f,%05.2f,000000\r\n", spf, mmPerS * 0.002236936, mmPerS * 0.0036)
        }
        if e.tag == .cn {
            // CN,occupancy,container number,confidence (999: not given),suspect (1) or not (0)
            return "CN," + six(e.fields[0]) + "," + (e.container?.text ?? "") + "," + six(e.fields[1]) + "," + six(e.fields[2]) + "\r\n"
        }
        return e.tag.text + "," + six(e.fields[0]) + "," + six(e.fields[1]) + "," + six(e.fields[2]) + "," + six(e.fields[3]) + "\r\n"
    }

    /// The five setup lines sent to each new client, from the engine settings, with the fields
    /// and types OpenSensorHub's Rapiscan driver parses (integers where it calls parseInt) and
    /// all five that LLNL's ERNIE needs (docs/VM250.md says what each field holds here).
    public static func setupLines(_ e: EngineSettings, panels: Int = 4, softwareVersion: String = "0.1.0") -> [String] {
        let intervals = max(1, e.gammaWindowSamples * Int(e.sampleIntervalUs) / 200_000)
        let holdIn = Int(e.holdInUs / 200_000)
        let sigma = Double(e.gammaSigmaQ8) / 256
        let nSigma = Double(e.neutronSigmaQ8) / 256
        let backgroundS = Int((Double((1 << e.backgroundShift) * e.sampleIntervalUs) / 1e6).rounded())
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : String(min(v, 99)) }
        let detectors = String(repeating: "1", count: min(4, max(1, panels)))
        return [
            // high and low background fault (counts/s, all panels; 0: off), window, hold-in (200 ms intervals), sigma
            "SG1," + six(e.gammaBackgroundHighCps) + "," + six(e.gammaBackgroundLowCps) + "," + two(intervals) + "," + two(holdIn) + ","
                + String(format: "%04.1f", sigma) + ",P",
            // detectors present, discriminators (keV: the reference panel's 30 and 3000), relay output, algorithm, software
            "SG2," + detectors + ",0030.0,3000.0,0,GCEW," + softwareVersion,
            // the second pillar's discriminators, the background time constant (s), the learning gate (sigma), firmware
            "SG3,0030.0,3000.0," + two(min(99, backgroundS)) + "," + two(Int((Double(e.backgroundGateSigmaQ8) / 256).rounded())) + "," + softwareVersion,
            // neutron high background (0: off), window (200 ms intervals), minimum excess counts, sigma x 10, sequential intervals, background time (s)
            "SN1,000000," + two(max(1, e.neutronWindowSamples * Int(e.sampleIntervalUs) / 200_000)) + "," + two(Int(e.neutronExcessMin))
                + "," + two(Int((nSigma * 10).rounded())) + ",01," + two(min(99, backgroundS)),
            // neutron discriminators: not set by this lane
            "SN2,0000.0,0000.0,0000.0,0000.0",
        ]
    }
}
