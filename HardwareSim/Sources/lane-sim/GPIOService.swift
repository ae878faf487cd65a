// The simulator's virtual GPIO service (docs/SIMULATOR.md): a Unix stream socket. The
// simulator sends `HELLO lane-sim-gpio 1`, then `EDGE <beam> <1|0> <tUs>` for every beam edge
// (1 = interrupted; tUs on CLOCK_MONOTONIC, as libgpiod timestamps kernel events); the agent
// sends `SET <output> <1|0>`. One client at a time; a new client replaces the old.

import Foundation
import LaneHAL

final class GPIOService {
    let path: String
    let listener: Int32
    var client: Int32 = -1
    var inbox: [UInt8] = []
    /// Current output levels as the agent set them.
    var outputs: [String: Bool] = [:]
    var onOutput: (String, Bool) -> Void = { _, _ in }
    /// The beams' true levels (the world's), what the agent was last told, and each beam's fault.
    var beamLevels: [Bool] = [false, false]
    var sentLevels: [Bool] = [false, false]
    var beamFaults: [BeamFault] = [.none, .none]
    var nextToggleUs: [Int64] = [0, 0]

    init(path: String) throws {
        self.path = path
        unlink(path)
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw SimError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw SimError("GPIO socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, listen(s, 4) == 0 else { throw SimError("cannot listen on \(path): \(String(cString: strerror(errno)))") }
        listener = s
    }

    func send(_ line: String) {
        guard client >= 0 else { return }
        let data = Array((line + "\n").utf8)
        let n = data.withUnsafeBytes { write(client, $0.baseAddress!, $0.count) }
        if n != data.count { close(client); client = -1 }
    }

    /// Accepts a new client, reads its SET lines. Never blocks.
    func poll(nowUs: Int64) {
        let c = accept(listener, nil, nil)
        if c >= 0 {
            _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
            if client >= 0 { close(client) }
            client = c
            inbox.removeAll()
            send("HELLO lane-sim-gpio 1")
            for (b, level) in sentLevels.enumerated() { send("EDGE \(b) \(level ? 1 : 0) \(nowUs)") }
        }
        for b in 0..<2 {  // a chattering beam toggles at its rate
            if case let .chatter(hz) = beamFaults[b], nowUs >= nextToggleUs[b] {
                report(beam: b, blocked: !sentLevels[b], tUs: nowUs)
                nextToggleUs[b] = nowUs + 500_000 / Int64(hz)
            }
        }
        guard client >= 0 else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(client, $0.baseAddress!, $0.count) }
            if n > 0 { inbox += buf[0..<n]; continue }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { close(client); client = -1 }
            break
        }
        while let nl = inbox.firstIndex(of: 0x0A) {
            let line = String(decoding: inbox[0..<nl], as: UTF8.self)
            inbox.removeSubrange(0...nl)
            let f = line.split(separator: " ")
            if f.count == 3, f[0] == "SET", f[2] == "0" || f[2] == "1" {
                let name = String(f[1]), on = f[2] == "1"
                if outputs[name] != on { outputs[name] = on; onOutput(name, on) }
            }
        }
    }

    /// A real edge of the world's beam: passed on unless the beam is faulted.
    func edge(beam: Int, blocked: Bool, tUs: Int64) {
        beamLevels[beam] = blocked
        if beamFaults[beam] == .none { report(beam: beam, blocked: blocked, tUs: tUs) }
    }

    func report(beam: Int, blocked: Bool, tUs: Int64) {
        sentLevels[beam] = blocked
        send("EDGE \(beam) \(blocked ? 1 : 0) \(tUs)")
    }

    /// A beam stuck at a level, chattering, or back to the world's level.
    func setFault(beam b: Int, _ f: BeamFault, nowUs: Int64) {
        beamFaults[b] = f
        switch f {
        case .none: if sentLevels[b] != beamLevels[b] { report(beam: b, blocked: beamLevels[b], tUs: nowUs) }
        case let .stuck(blocked): if sentLevels[b] != blocked { report(beam: b, blocked: blocked, tUs: nowUs) }
        case .chatter: nextToggleUs[b] = nowUs
        }
    }
}
