// The simulator's control socket (docs/SIMULATOR.md): what a test or a developer does to the
// lane by hand, such as holding the check source against a panel. A Unix stream socket, one
// command per line, answered `OK ...` or `ERR <why>`:
//   checksource <panel 1..N | all> <counts/s>    (0 takes the source away)
//   status
//   fault ...                                     the grammar of FaultCommand.swift

import Foundation
import LaneHAL
import LaneSimCore

final class ControlService {
    let listener: Int32
    var clients: [(fd: Int32, inbox: [UInt8])] = []

    /// Applies a fault to the running simulator (set by it; called with the world's lock held).
    /// Returns why it cannot be applied, or nil.
    var apply: (FaultCommand) -> String? = { _ in "no simulator to apply it to" }

    init(path: String) throws {
        do throws(SysError) { listener = try Sys.listenUnix(path, mode: 0o600, nonBlocking: true) } catch {
            throw SimError("control socket: \(error)")
        }
    }

    /// Accepts clients and runs their commands against `world`. Never blocks.
    func poll(world: LaneWorld) {
        if let c = try? Sys.accept(listener, "control socket") {
            if clients.count >= 4 { Sys.close(c) } else { clients.append((c, [])) }
        }
        var i = 0
        while i < clients.count {
            var gone = !Sys.drain(clients[i].fd, into: &clients[i].inbox)
            while let nl = clients[i].inbox.firstIndex(of: 0x0A) {
                let line = String(decoding: clients[i].inbox[0..<nl], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                clients[i].inbox.removeSubrange(0...nl)
                let answer = run(line, world: world) + "\n"
                _ = Array(answer.utf8).withUnsafeBytes { Terminal.write(clients[i].fd, $0, timeoutMs: 100) }
            }
            if clients[i].inbox.count > 4096 { gone = true }
            if gone { Sys.close(clients[i].fd); clients.remove(at: i) } else { i += 1 }
        }
    }

    func fault(_ a: [String], panels n: Int) -> String {
        switch FaultCommand.parse(a, panels: n) {
        case let .failure(e): return "ERR " + e.message
        case let .success(c):
            if let problem = apply(c) { return "ERR " + problem }
            return "OK fault " + a.joined(separator: " ")
        }
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
