// The simulator's control socket (docs/SIMULATOR.md): what a test or a developer does to the
// lane by hand, such as holding the check source against a panel. A Unix stream socket, one
// command per line, answered `OK ...` or `ERR <why>`:
//   checksource <panel 1..N | all> <counts/s>    (0 takes the source away)
//   status
//   fault <panel 1..N | all> <kind> [value] [count]     kinds: silent, late <ms>, stall <ms>, exception <code>,
//        wrongtid, otherunit, badcrc, truncated (RTU), restart; count: replies it lasts (default: until cleared)
//   fault <panel 1..N | all> frozen | status <value> | clear

import Foundation
import LaneHAL
import LaneSimCore

final class ControlService {
    let listener: Int32
    var clients: [(fd: Int32, inbox: [UInt8])] = []

    /// The panels' Modbus servers (nil when none runs).
    var bank: PanelBank?

    init(path: String) throws {
        listener = try Terminal.listenUnix(path)
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
    }

    /// Accepts clients and runs their commands against `world`. Never blocks.
    func poll(world: LaneWorld) {
        let c = accept(listener, nil, nil)
        if c >= 0 {
            _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
            if clients.count >= 4 { close(c) } else { clients.append((c, [])) }
        }
        var buf = [UInt8](repeating: 0, count: 1024)
        var i = 0
        while i < clients.count {
            var gone = false
            while true {
                let n = buf.withUnsafeMutableBytes { read(clients[i].fd, $0.baseAddress!, $0.count) }
                if n > 0 { clients[i].inbox += buf[0..<n]; continue }
                if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { gone = true }
                break
            }
            while let nl = clients[i].inbox.firstIndex(of: 0x0A) {
                let line = String(decoding: clients[i].inbox[0..<nl], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                clients[i].inbox.removeSubrange(0...nl)
                let answer = run(line, world: world) + "\n"
                _ = Array(answer.utf8).withUnsafeBytes { Terminal.write(clients[i].fd, $0, timeoutMs: 100) }
            }
            if clients[i].inbox.count > 4096 { gone = true }
            if gone { close(clients[i].fd); clients.remove(at: i) } else { i += 1 }
        }
    }

    func fault(_ a: [String], panels n: Int) -> String {
        let usage = "ERR usage: fault <panel 1..\(n)|all> <silent|late MS|stall MS|exception CODE|wrongtid|otherunit|badcrc|truncated|restart> [count] | frozen | status VALUE | clear"
        guard let bank, a.count >= 2 else { return bank == nil ? "ERR no Modbus server runs" : usage }
        let targets: [Int]
        if a[0] == "all" { targets = Array(0..<n) } else {
            guard let p = Int(a[0]), (1...n).contains(p) else { return "ERR panel must be 1..\(n) or all" }
            targets = [p - 1]
        }
        let rest = Array(a.dropFirst(2))
        func number(_ i: Int, _ range: ClosedRange<Int>) -> Int? { i < rest.count ? Int(rest[i]).flatMap { range.contains($0) ? $0 : nil } : nil }
        // The caller (the simulator's loop) holds the world's lock, which the panel bank shares.
        for p in targets {
            switch a[1] {
            case "clear": bank.faults[p] = PanelFaults()
            case "frozen": bank.faults[p].frozen = true
            case "status":
                guard let v = number(0, 0...0xFFFF) else { return "ERR status takes a register value 0..65535" }
                bank.faults[p].status = UInt16(v)
            default:
                guard let kind = PanelFaults.Kind(rawValue: a[1]), kind != .none else { return usage }
                let takesValue = kind == .late || kind == .stall || kind == .exception
                var value = 0
                if takesValue {
                    guard let v = number(0, kind == .exception ? 1...255 : 1...60_000) else { return "ERR \(a[1]) takes a value (\(kind == .exception ? "code 1..255" : "ms 1..60000"))" }
                    value = v
                }
                let countIndex = takesValue ? 1 : 0
                var count = -1
                if countIndex < rest.count {
                    guard let c = number(countIndex, 1...1_000_000) else { return "ERR count must be 1..1000000 replies" }
                    count = c
                }
                bank.faults[p].kind = kind
                bank.faults[p].value = value
                bank.faults[p].remaining = count
            }
        }
        return "OK fault " + a.joined(separator: " ")
    }

    func run(_ line: String, world: LaneWorld) -> String {
        let f = line.split(separator: " ").map(String.init)
        guard let verb = f.first else { return "ERR empty command" }
        switch verb {
        case "checksource":
            guard f.count == 3 else { return "ERR usage: checksource <panel 1..\(world.panelCount)|all> <counts/s>" }
            guard let cps = Double(f[2]), cps >= 0, cps <= 1e7 else { return "ERR counts/s must be 0 to 10000000" }
            if f[1] == "all" {
                for p in 0..<world.panelCount { world.checkSourceCps[p] = cps }
            } else {
                guard let p = Int(f[1]), (1...world.panelCount).contains(p) else { return "ERR panel must be 1..\(world.panelCount) or all" }
                world.checkSourceCps[p - 1] = cps
            }
            return "OK checksource " + world.checkSourceCps.map { String(Int($0)) }.joined(separator: " ")
        case "status":
            return "OK t=\(String(format: "%.2f", world.timeS)) checksource " + world.checkSourceCps.map { String(Int($0)) }.joined(separator: " ")
        case "fault":
            return fault(Array(f.dropFirst()), panels: world.panelCount)
        default:
            return "ERR unknown command '\(verb)' (checksource, status, fault)"
        }
    }
}
