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
        let s: Int32
        do throws(SysError) { s = try Sys.listenUnix(path, nonBlocking: true) } catch { throw SimError("GPIO socket: \(error)") }
        listener = s
    }

    func send(_ line: String) {
        guard client >= 0 else { return }
        let data = Array((line + "\n").utf8)
        let n = data.withUnsafeBytes { (try? Sys.write(client, $0)) ?? -1 }
        if n != data.count { dropClient() }
    }

    /// The client has gone (or cannot be written to): what it sent before leaving still counts
    /// (`lane-agent safe-outputs` sets its lines and leaves without reading the greeting), so its
    /// socket is read to the end before it is closed.
    func dropClient() {
        guard client >= 0 else { return }
        _ = Sys.drain(client, into: &inbox)
        Sys.close(client)
        client = -1
        readLines()
    }

    /// Accepts a new client, reads its SET lines. Never blocks.
    func poll(nowUs: Int64) {
        if let c = try? Sys.accept(listener, path) {
            dropClient()  // the one it replaces: its last lines first
            inbox.removeAll()  // and not a partial line of it
            client = c
            // What it sent before we greet it first: a client that set its lines and left at
            // once (`lane-agent safe-outputs`) would otherwise lose them to the failed greeting.
            if !Sys.drain(c, into: &inbox) { dropClient() }
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
        if !Sys.drain(client, into: &inbox) { dropClient() }
        readLines()
    }

    /// The SET lines in the inbox.
    func readLines() {
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
