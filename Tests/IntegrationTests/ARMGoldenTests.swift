// Proves the engine computes the same bits on ARM: LaneCore built in Embedded Swift for aarch64
// and for armv7 (32-bit), linked into a C harness with Debian's cross compilers and run under
// qemu-user, gives exactly the decisions of the x86_64 build on every golden trace and on a multi-window one (the spectral test learning and deciding, with
// and without the 8-window profile's site policies, and as Boards/sim-8w.yaml ships it: n = 6, NORM learned at 7), down to which gamma test alarmed; and those are the package's own decisions.

import Foundation
import Testing

@Suite(.timeLimit(integrationTimeLimit))
struct ARMGoldenTests {
    @Test("golden vectors: aarch64 and armv7 (qemu-user) == x86_64 == lane-agent replay")
    func aarch64() async throws {
        let dir = scratch("golden-arm")
        // Awaited, not waited for: the builds take a minute and a half, and a test blocked in
        // waitUntilExit holds one of the concurrency pool's threads (two on two cores), which
        // delayed the real-time tests of the same shard.
        let script = try Child("/bin/bash", [packageRoot + "/scripts/golden-arm.sh", dir], dir: dir, name: "golden-arm")
        let status = await script.finish(timeoutS: 600)
        let text = script.stdout + script.stderr
        #expect(status == 0, "\(text)")
        // The gamma tests' names by bit (GammaTests): the harness prints the bits from flags' bit 8.
        let testNames = ["gross", "share", "surplus", "spectral", "directed", "ceiling", "matched"]
        func testBits(_ g: [String: Any]) -> Int64 {
            (g["gammaTests"] as? [String] ?? []).reduce(0) { $0 | Int64(1 << (testNames.firstIndex(of: $1) ?? 62)) }
        }
        for name in ["demo", "e2e", "parked", "queued", "norm-traffic-8w", "norm-traffic-8w-directed", "norm-traffic-8w-profile", "norm-traffic-8w-shipped"] {
            for arch in ["aarch64", "armv7"] {
                #expect(text.contains("golden-arm: \(name):") && text.contains("identical on x86_64 and \(arch)"), "\(text)")
                let a = try String(contentsOfFile: dir + "/\(name).\(arch).txt", encoding: .utf8)
                #expect(a == (try String(contentsOfFile: dir + "/\(name).x86_64.txt", encoding: .utf8)) && !a.isEmpty, "\(name) on \(arch)")
            }
            // The harness's integers are the replay's decisions (same engine, same trace).
            let harness = try String(contentsOfFile: dir + "/\(name).armv7.txt", encoding: .utf8).split(separator: "\n")
            // The multi-window trace's decisions are the replay's of the trace the script generated.
            let decisions = name.hasPrefix("norm-traffic-8w") ? dir + "/\(name).decisions.jsonl" : packageRoot + "/Tests/Golden/\(name).decisions.jsonl"
            let golden = try String(contentsOfFile: decisions, encoding: .utf8).split(separator: "\n")
                .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            #expect(harness.count == golden.count && !golden.isEmpty)
            for (h, g) in zip(harness, golden) {
                let f = h.split(separator: " ").map { Int64($0)! }
                #expect(f[0] == (g["occupancy"] as! NSNumber).int64Value && f[1] == (g["startUs"] as! NSNumber).int64Value)
                #expect(f[2] == (g["endUs"] as! NSNumber).int64Value && f[6] == (g["gammaMaxCounts"] as! NSNumber).int64Value)
                #expect((f[4] & 1 != 0) == (g["gammaAlarm"] as! Bool) && (f[4] & 2 != 0) == (g["neutronAlarm"] as! Bool))
                #expect(f[4] >> 8 == testBits(g), "\(name) occupancy \(f[0]): tests \(f[4] >> 8) against \(g["gammaTests"] ?? "none")")
            }
        }
        // The profile's vector exercises its site policies: without the confident NORM overrules and
        // the hard bins, the same trace's decisions name other tests for some occupancy.
        let off = try String(contentsOfFile: dir + "/norm-traffic-8w-profile-off.decisions.jsonl", encoding: .utf8).split(separator: "\n")
            .map { testBits(try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]) }
        let on = try String(contentsOfFile: dir + "/norm-traffic-8w-profile.decisions.jsonl", encoding: .utf8).split(separator: "\n")
            .map { testBits(try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]) }
        #expect(off.count == on.count && zip(off, on).contains { $0 != $1 }, "the profile's policies changed no decision's tests")
    }
}
