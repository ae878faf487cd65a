// lane-sim: the hardware simulator. It plays a scenario's lane physics and serves the panels
// over Modbus (TCP and RTU on a pseudo-terminal) and the beams and outputs over its virtual
// GPIO service; or writes the scenario's lane trace on simulated time.

import ArgumentParser
import Foundation
import LaneSimCore
import LaneTrace

@main
struct LaneSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lane-sim",
        abstract: "Hardware simulator for the lane controller: panels over Modbus, beams and outputs over a GPIO socket.",
        subcommands: [Serve.self, Trace.self, Demo.self, Eval.self, Vectors.self],
        defaultSubcommand: Serve.self)
}

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a scenario on simulated time and write its lane trace (no waiting).")

    @Option(help: "Scenario file (YAML).") var scenario: String
    @Option(help: "Where to write the trace (JSON Lines); - for standard output.") var out: String = "-"
    @Option(help: "Where to write the ground truth, one JSON line per vehicle.") var truth: String?
    @Option(help: "Override the scenario's seed.") var seed: UInt64?
    @Option(help: "Play the spectra of this member of the physics family (m1, m2, ...; docs/SIMULATOR.md).") var physics: String?
    @Option(help: "With --physics: the seed of the family.") var familySeed: UInt64 = 1
    @Option(help: "With --physics: multi-window panels with these window boundaries in keV, comma-separated (K + 1 values, 2 <= K <= 16), written with the contract's energyWindowsKev, gammaLowWindows and gammaWindows.")
    var windows: String?
    @Option(help: "With --windows: the window split (one of the inner boundaries; default: the one nearest the member's split).") var splitKev: Double?

    func run() throws {
        var s = try loadScenario(scenario)
        if let seed { s.seed = seed }
        if let physics { s.lane.physics = try familyMember(physics, seed: familySeed) }
        let world = LaneWorld(scenario: s)
        if let windows {
            guard s.lane.physics != nil else { throw ValidationError("--windows needs --physics (lane-sim's fixed shares know two windows)") }
            let b = try parseWindows(windows)
            let inner = Array(b.dropFirst().dropLast())
            if let splitKev, !inner.contains(splitKev) { throw ValidationError("--split-kev \(splitKev) is not one of the inner window boundaries \(inner)") }
            world.useWindows(b, split: splitKev)
        }
        let sink = try LineSink(path: out)
        let truths = TraceGenerator.generate(world) { sink.write($0) }
        sink.close()
        if let truth {
            let t = try LineSink(path: truth)
            for v in truths { t.write(v.json(originUs: 0)) }
            t.close()
        }
    }
}

/// A member of the physics family by name (m1 ... m64).
func familyMember(_ name: String, seed: UInt64) throws -> Physics {
    guard name.hasPrefix("m"), let i = Int(name.dropFirst()), (1...64).contains(i) else {
        throw ValidationError("--physics: expected a family member m1 to m64, found '\(name)'")
    }
    return Physics.family(seed: seed, count: i)[i]
}

/// Window boundaries as the contract states them: K + 1 increasing energies, 2 <= K <= 16.
func parseWindows(_ text: String) throws -> [Double] {
    let b = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard b.allSatisfy({ $0 != nil && $0! >= 0 && $0! <= 10_000 }) else { throw ValidationError("--windows: expected energies in keV separated by commas, got '\(text)'") }
    let v = b.map { $0! }
    guard v.count >= 3 && v.count <= 17 else { throw ValidationError("--windows: \(v.count) boundaries; K + 1 for K = 2 to 16 windows") }
    for i in 1..<v.count where v[i] <= v[i - 1] { throw ValidationError("--windows: boundaries must increase: \(v[i - 1]) then \(v[i])") }
    return v
}

func loadScenario(_ path: String) throws -> Scenario {
    do { return try Scenario.load(path: path) } catch let e as ScenarioError {
        throw ValidationError(e.message)
    }
}

/// Buffered line output to a file or standard output.
final class LineSink: @unchecked Sendable {
    let handle: FileHandle
    var buffer = Data()
    let lock = NSLock()

    init(path: String) throws {
        if path == "-" {
            handle = FileHandle.standardOutput
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw ValidationError("cannot write \(path)")
            }
            handle = h
        }
    }

    func write(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count > 1 << 16 { handle.write(buffer); buffer.removeAll(keepingCapacity: true) }
    }

    func flush() {
        lock.lock(); defer { lock.unlock() }
        if !buffer.isEmpty { handle.write(buffer); buffer.removeAll(keepingCapacity: true) }
    }

    func close() {
        flush()
        if handle !== FileHandle.standardOutput { try? handle.close() }
    }
}

/// Converts a lane trace into the golden-vector harness's binary input (Tools/golden-harness):
/// "LANEVEC1", panels, beam spacing (mm), sample interval (us) as little-endian Int64, then
/// events: 'E' tUs beam blocked (Int64 each), 'S' tUs intervalUs then gamma, gammaLow, neutron
/// per panel (UInt32 each). Intervals are taken from the trace's times as replay does. A
/// multi-window trace (K >= 3) has 'K' 0 K (Int64 each) before its first sample, and each 'S' is
/// followed by the K windows of every panel, panel after panel (UInt32 each). With a directed
/// test (`--check-shape`), a 'T' record follows 'K': 0, the number of fields n, then n Int64:
/// spectral sigma and directed sigma (Q8), the two-window rule's shares (Q16; the rule on), the
/// number of shapes, 16 shares per shape (Q16), and with `--matched-sigma` the matched test's sigma and its verdict's (Q8),
/// then, when given, the confident NORM overrules of the surplus and the share tests (Q8), the hard bins' divisor, the
/// gross n and the learning significance (Q8).
struct Vectors: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Convert a lane trace into golden vectors for the embedded-engine harness.")
    @Option(help: "The lane trace (JSON Lines).") var trace: String
    @Option(help: "The vector file to write.") var out: String
    @Option(help: "Multi-window traces: a check source's shape for the directed test, K shares separated by commas (repeat for up to 4); the two-window rule is then on.")
    var checkShape: [String] = []
    @Option(help: "With --check-shape: the omnibus spectral test's sigma.") var spectralSigma: Double = 3
    @Option(help: "With --check-shape: the directed test's sigma.") var directedSigma: Double = 3
    @Option(help: "With --check-shape: the matched test's sigma (0: not written, the engine's default).") var matchedSigma: Double = 0
    @Option(help: "With --matched-sigma: the matched test's verdict sigma.") var matchedDirectedSigma: Double = 3.5
    @Option(help: "With --check-shape: the two-window rule's normLowShareMin and normShareMax.") var normShares: String = "0.95,0.9"
    @Option(help: "With --matched-sigma: the confident NORM verdict's overrule of the surplus test, sd (not written: the engine's default, never).") var spectralNormSigma: Double?
    @Option(help: "With --spectral-norm-sigma: its overrule of the share test, sd.") var spectralNormShareSigma: Double?
    @Option(help: "With --spectral-norm-share-sigma: the hard tail's bin divisor (20 to 200).") var hardBinDivisor: Int?
    @Option(help: "With --hard-bin-divisor: the gross test's n.") var gammaSigma: Double?
    @Option(help: "With --gamma-sigma: the significance the lane learns its NORM from (never below n; 0: n).") var learnSigma: Double?

    func run() throws {
        guard let text = try? String(contentsOfFile: trace, encoding: .utf8) else { throw ValidationError("cannot read \(trace)") }
        var reader = TraceReader()
        var bytes: [UInt8] = Array("LANEVEC1".utf8)
        func i64(_ v: Int64) { for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * Int64(k)))) } }
        func u32(_ v: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
        var panels = 0
        var nominal: Int64 = 100_000
        var lastCounts: Int64 = -1
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            do {
                guard let ev = try reader.read(line: String(line)) else {
                    if panels == 0, let h = reader.header {
                        panels = h.panels
                        nominal = h.sampleIntervalMs * 1000
                        i64(Int64(h.panels)); i64(h.beamSpacingMm); i64(nominal)
                        if h.windowCount >= 3 { bytes.append(UInt8(ascii: "K")); i64(0); i64(Int64(h.windowCount)) }
                        if h.windowCount >= 3 && !checkShape.isEmpty {
                            let shares = normShares.split(separator: ",").compactMap { Double($0) }
                            let shapes = try checkShape.prefix(4).map { text -> [Double] in
                                let v = text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                                guard v.count == h.windowCount else { throw ValidationError("--check-shape: \(v.count) shares for \(h.windowCount) windows") }
                                return v
                            }
                            guard shares.count == 2 else { throw ValidationError("--norm-shares: two shares, such as 0.95,0.9") }
                            var fields: [Int64] = [Int64((spectralSigma * 256).rounded()), Int64((directedSigma * 256).rounded()),
                                                   Int64((shares[0] * 65536).rounded()), Int64((shares[1] * 65536).rounded()), Int64(shapes.count)]
                            for v in shapes { fields += (0..<16).map { $0 < v.count ? Int64((v[$0] * 65536).rounded()) : 0 } }
                            if matchedSigma > 0 { fields += [Int64((matchedSigma * 256).rounded()), Int64((matchedDirectedSigma * 256).rounded())] }
                            // Positional, each after the one before: the confident NORM overrules and the hard bins.
                            let tail: [Int64?] = [spectralNormSigma.map { Int64(($0 * 256).rounded()) },
                                                  spectralNormShareSigma.map { Int64(($0 * 256).rounded()) }, hardBinDivisor.map { Int64($0) },
                                                  gammaSigma.map { Int64(($0 * 256).rounded()) }, learnSigma.map { Int64(($0 * 256).rounded()) }]
                            for (i, v) in tail.enumerated() {
                                guard let v else { continue }
                                guard matchedSigma > 0 && tail[..<i].allSatisfy({ $0 != nil }) else {
                                    throw ValidationError("--spectral-norm-sigma, --spectral-norm-share-sigma, --hard-bin-divisor, --gamma-sigma and --learn-sigma follow --matched-sigma and each other, in that order")
                                }
                                fields.append(v)
                            }
                            bytes.append(UInt8(ascii: "T")); i64(0); i64(Int64(fields.count))
                            for x in fields { i64(x) }
                        }
                    }
                    continue
                }
                switch ev {
                case let .beam(e):
                    bytes.append(UInt8(ascii: "E")); i64(e.tUs); i64(Int64(e.beam)); i64(e.blocked ? 1 : 0)
                case let .counts(t, g, l, n):
                    var interval = lastCounts < 0 ? nominal : t - lastCounts
                    if interval <= 0 { interval = nominal }
                    lastCounts = t
                    bytes.append(UInt8(ascii: "S")); i64(t); i64(interval)
                    for p in 0..<panels { u32(g[p]) }
                    for p in 0..<panels { u32(l[p]) }
                    for p in 0..<panels { u32(n[p]) }
                    if let k = reader.header?.windowCount, k >= 3 { for i in 0..<(panels * k) { u32(reader.windows[i]) } }
                case .container, .ignored: break
                }
            } catch {
                throw ValidationError("\(trace): \(error)")
            }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: out))
    }
}
