// The gate OCR's connection (docs/OCR.md): a thread that connects to the OCR system (or takes
// its connections), frames and parses its messages as the board profile describes, and hands
// each read to the tick through a bounded queue. It reconnects by itself; a malformed message is
// logged with its reason and counted; nothing it receives can stop or block the tick.

import Foundation
import LaneCore
import LaneHAL
import LaneTrace

public struct OCRConfig: Sendable {
    public enum Endpoint: Sendable, Equatable {
        /// The agent connects to the OCR system.
        case connect(host: String, port: Int)
        /// The OCR system connects to the agent (any number of connections; `allow` limits peers).
        case listen(host: String, port: Int, allow: [String])
    }
    public var endpoint: Endpoint
    public var format: OCRFormat
    /// How reads are attached (late window, early tolerance, minimum confidence).
    public var matching = OCRSettings()
    /// Seconds between connection attempts.
    public var reconnectS: Double = 2
    /// The OCR's read time is used when it is within this of the lane's clock; beyond, the
    /// arrival time is (and the log says the clocks disagree).
    public var clockToleranceS: Double = 120
    public init(endpoint: Endpoint, format: OCRFormat) { self.endpoint = endpoint; self.format = format }

    public var place: String {
        switch endpoint {
        case let .connect(h, p): return "\(h):\(p)"
        case let .listen(h, p, _): return "\(h):\(p) (listening)"
        }
    }
}

public final class OCRInput: @unchecked Sendable {
    public let config: OCRConfig
    /// Reads for the tick (it takes a few per tick, never waits).
    public let reads = BoundedQueue<OCRRead>(capacity: 64)
    let parser: OCRMessageParser
    let log: LogLimiter
    let lock = NSLock()

    public struct Stats: Sendable {
        public var connected = 0
        public var connects = 0
        public var disconnects = 0
        public var messages = 0
        public var readsQueued = 0
        public var emptyReads = 0
        public var malformed = 0
        public var clockDisagreements = 0
        public var clientsRefused = 0
        public var lastError = ""
        public var lastMalformed = ""
    }
    var statsStorage = Stats()
    public var stats: Stats { lock.lock(); defer { lock.unlock() }; var s = statsStorage; s.readsQueued = reads.pushed; return s }
    public var dropped: Int { reads.dropped }

    struct Connection {
        var fd: Int32
        var peer: String
        var buffer: [UInt8] = []
        /// Skipping an over-long message up to its end.
        var skipping = false
    }
    var connections: [Connection] = []
    var listener: Int32 = -1
    /// The port it listens on (the kernel's choice when 0 was asked); nil when it connects.
    public private(set) var listenPort: Int? = nil
    var nextAttempt: Double = 0
    var lastConnectError = ""

    public init(config: OCRConfig, log: @escaping (String) -> Void) throws {
        self.config = config
        parser = try OCRMessageParser(config.format)
        // Up to 20 lines a minute per cause: a technician sees each of a burst of bad messages,
        // a flood is counted, not written.
        self.log = LogLimiter(burst: 20, windowS: 60, sink: log)
        if case let .listen(host, port, _) = config.endpoint {
            do throws(SysError) {
                let l = try Sys.listenTCP(host: host, port: port)
                listener = l.fd
                listenPort = l.port
            } catch {
                throw ProfileError("ocr: cannot listen on \(host):\(port): \(error)")
            }
        }
    }

    public func start(stop: @escaping @Sendable () -> Bool) {
        startThread(name: "ocr") { [self] in
            while !stop() { step(timeoutMs: 100) }
            for c in connections { Sys.close(c.fd) }
            if listener >= 0 { Sys.close(listener) }
            log.flush(all: true)
        }
    }

    /// One round: connect or accept, wait up to `timeoutMs` for bytes, take what came.
    func step(timeoutMs: Int32) {
        let now = ProcessInfo.processInfo.systemUptime
        switch config.endpoint {
        case let .connect(host, port):
            if connections.isEmpty && now >= nextAttempt {
                nextAttempt = now + config.reconnectS
                do throws(SysError) {
                    let fd = try Sys.connectTCP(host: host, port: port, timeoutMs: 1000)
                    connections.append(Connection(fd: fd, peer: "\(host):\(port)"))
                    lastConnectError = ""
                    log.log("ocr-connect", "ocr: connected to the OCR system at \(host):\(port)")
                    lock.lock(); statsStorage.connects += 1; statsStorage.connected = 1; statsStorage.lastError = ""; lock.unlock()
                } catch {
                    // Said once per reason, not every attempt.
                    if error.description != lastConnectError {
                        lastConnectError = error.description
                        log.log("ocr-connect-failed", "ocr: cannot connect to the OCR system: \(error) (retrying every \(config.reconnectS) s)")
                    }
                    lock.lock(); statsStorage.lastError = error.description; lock.unlock()
                }
            }
        case let .listen(_, _, allow):
            acceptClients(allow: allow)
        }
        var fds = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        if listener >= 0 { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
        if fds.isEmpty { usleep(UInt32(timeoutMs) * 1000); return }
        _ = poll(&fds, nfds_t(fds.count), timeoutMs)
        var closed: [Int] = []
        for i in connections.indices where fds[i].revents != 0 {
            if !receive(&connections[i]) { closed.append(i) }
        }
        for i in closed.reversed() {
            Sys.close(connections[i].fd)
            connections.remove(at: i)
            lock.lock(); statsStorage.disconnects += 1; statsStorage.connected = connections.count; lock.unlock()
        }
        if !closed.isEmpty { nextAttempt = ProcessInfo.processInfo.systemUptime + 0.2 }  // reconnect soon after a drop
    }

    func acceptClients(allow: [String]) {
        while true {
            let c: Int32
            do throws(SysError) {
                guard let a = try Sys.accept(listener, "ocr") else { return }
                c = a
            } catch {
                log.log("ocr-accept", "ocr: \(error)")
                return
            }
            let peer = Sys.peerAddress(c) ?? "an unknown peer"
            if !allow.isEmpty && !allow.contains(peer) {
                Sys.close(c)
                lock.lock(); statsStorage.clientsRefused += 1; lock.unlock()
                log.log("ocr-refused", "ocr: a connection from \(peer) was refused: not in ocr.allow")
                continue
            }
            if connections.count >= 8 {
                Sys.close(c)
                lock.lock(); statsStorage.clientsRefused += 1; lock.unlock()
                log.log("ocr-refused", "ocr: a connection from \(peer) was refused: 8 OCR connections are open")
                continue
            }
            connections.append(Connection(fd: c, peer: peer))
            log.log("ocr-connect", "ocr: the OCR system at \(peer) connected")
            lock.lock(); statsStorage.connects += 1; statsStorage.connected = connections.count; lock.unlock()
        }
    }

    /// Reads what the connection has; false when it is closed or failed.
    func receive(_ c: inout Connection) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 8192)
        let fd = c.fd
        let result = chunk.withUnsafeMutableBytes { b in Result { () throws(SysError) in try Sys.read(fd, into: b, "ocr") } }
        let n: Int
        switch result {
        case let .success(k): n = k
        case let .failure(error):
            if error.wouldBlock { return true }
            log.log("ocr-closed", "ocr: the connection to \(c.peer) failed: \(error.reason); \(reconnectWords)")
            lock.lock(); statsStorage.lastError = error.reason; lock.unlock()
            return false
        }
        if n == 0 {
            if !c.skipping && c.buffer.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) {
                count()
                malformed(c.peer, "the connection closed in the middle of a message (\(c.buffer.count) bytes)")
            }
            log.log("ocr-closed", "ocr: the OCR system at \(c.peer) closed the connection; \(reconnectWords)")
            lock.lock(); statsStorage.lastError = "closed by the OCR system"; lock.unlock()
            return false
        }
        c.buffer.append(contentsOf: chunk[0..<n])
        frames(&c)
        return true
    }

    var reconnectWords: String {
        if case .connect = config.endpoint { return "reconnecting" }
        return "waiting for it to connect again"
    }

    /// Takes every complete message out of the connection's buffer.
    func frames(_ c: inout Connection) {
        let max = config.format.messageBytesMax
        while true {
            guard let (end, next) = messageEnd(c.buffer) else {
                if c.buffer.count > max {
                    if !c.skipping {
                        count()
                        malformed(c.peer, "a message longer than \(max) bytes without its end; skipped up to its end")
                    }
                    c.skipping = true
                    c.buffer.removeAll(keepingCapacity: true)
                }
                return
            }
            let body = Array(c.buffer[0..<end])
            c.buffer.removeFirst(next)
            if c.skipping { c.skipping = false; continue }
            if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { continue }  // keep-alive or blank line
            count()
            guard body.count <= max else { malformed(c.peer, "a message of \(body.count) bytes, longer than \(max) bytes (ocr.messageBytesMax)"); continue }
            handle(body, peer: c.peer)
        }
    }

    /// Where the first message ends in `b` (its bytes, and where the next one starts).
    func messageEnd(_ b: [UInt8]) -> (Int, Int)? {
        switch config.format.kind {
        case .line:
            guard let nl = b.firstIndex(of: 0x0A) else { return nil }
            let end = nl > 0 && b[nl - 1] == 0x0D ? nl - 1 : nl
            return (end, nl + 1)
        case let .xml(root, _, _, _, _):
            let close = Array("</\(root)>".utf8)
            guard b.count >= close.count else { return nil }
            var i = 0
            while i + close.count <= b.count {
                if b[i] == 0x3C && Array(b[i..<(i + close.count)]) == close { return (i + close.count, i + close.count) }
                i += 1
            }
            return nil
        }
    }

    func count() { lock.lock(); statsStorage.messages += 1; lock.unlock() }

    func malformed(_ peer: String, _ why: String) {
        lock.lock(); statsStorage.malformed += 1; statsStorage.lastMalformed = why; lock.unlock()
        log.log("ocr-malformed", "ocr: a message from \(peer) was refused: \(why)")
    }

    func handle(_ body: [UInt8], peer: String) {
        guard let text = String(validating: body, as: UTF8.self) else { malformed(peer, "not UTF-8 text"); return }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let m: OCRMessage
        switch parser.parse(trimmed) {
        case let .failure(e):
            malformed(peer, "\(e) in \"\(trimmed.prefix(120))\"")
            return
        case let .success(ok): m = ok
        }
        if m.isEmpty {
            // The OCR saw the truck and read nothing (a bobtail, or an unreadable box).
            lock.lock(); statsStorage.emptyReads += 1; lock.unlock()
            return
        }
        let arrival = MonotonicClock.nowUs()
        let wall = wallClockUs()
        var r = OCRRead()
        for (n, conf) in m.numbers { _ = r.add(ContainerNumber(ascii: Array(n.utf8))!, confidence: conf) }
        r.plate = m.plate.flatMap { ContainerNumber(ascii: Array($0.utf8)) }
        r.arrivalUs = arrival
        r.atUs = arrival
        if let readWall = m.readWallUs {
            r.readWallUs = readWall
            let offset = wall - readWall
            if Double(abs(offset)) <= config.clockToleranceS * 1e6 {
                r.atUs = arrival - max(0, offset)
            } else {
                lock.lock(); statsStorage.clockDisagreements += 1; lock.unlock()
                log.log("ocr-clock", "ocr: a read time \(Double(offset) / 1e6) s off the lane's clock (tolerance \(config.clockToleranceS) s): matched by its arrival time instead; check both clocks (NTP)")
            }
        }
        if reads.push(r) == nil {
            log.log("ocr-queue", "ocr: the read queue is full (the tick takes 8 per tick): a read was dropped")
        }
    }
}
