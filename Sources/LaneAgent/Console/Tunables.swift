// The settings a technician may change from the console (`set`, `save`, `config diff`): their
// names are the board profile's keys, their values are read strictly, checked against the same
// ranges as the profile, applied by the tick when the lane is next empty, and written back into
// the profile file in place (comments and layout kept) by `save`.

import Foundation
import LaneCore
import LaneHAL
import Yams

/// The values the tunables live in.
public struct TunableValues: Sendable, Equatable {
    public var engine: EngineSettings
    public var sirenUs: Int64
    public var alarmLightHoldUs: Int64

    public init(engine: EngineSettings, sirenUs: Int64, alarmLightHoldUs: Int64) {
        self.engine = engine; self.sirenUs = sirenUs; self.alarmLightHoldUs = alarmLightHoldUs
    }
    public init(_ p: BoardProfile) { self.init(engine: p.engine, sirenUs: p.sirenUs, alarmLightHoldUs: p.alarmLightHoldUs) }

    public static func == (a: TunableValues, b: TunableValues) -> Bool {
        Tunable.all.allSatisfy { $0.get(a) == $0.get(b) }
    }
}

public struct Tunable: Sendable {
    public let section: String
    public let key: String
    public let unit: String
    /// Digits after the decimal point that a value may have (0: integers; -1: true/false).
    public let decimals: Int
    /// Range, scaled by 10^decimals.
    public let min: Int64, max: Int64
    /// The safety floor (scaled): beyond it the lane would be blind or blunted (a threshold so
    /// high a real source passes, a siren that does not sound). A profile beyond it is refused;
    /// `set` beyond it only in maintenance mode (docs/SECURITY.md). nil: no floor.
    public let safe: ClosedRange<Int64>?
    public let help: String
    package let get: @Sendable (TunableValues) -> Int64
    package let put: @Sendable (inout TunableValues, Int64) -> Void

    init(section: String, key: String, unit: String, decimals: Int, min: Int64, max: Int64, safe: ClosedRange<Int64>? = nil, help: String,
         get: @escaping @Sendable (TunableValues) -> Int64, put: @escaping @Sendable (inout TunableValues, Int64) -> Void) {
        self.section = section; self.key = key; self.unit = unit; self.decimals = decimals; self.min = min; self.max = max
        self.safe = safe; self.help = help; self.get = get; self.put = put
    }

    public var isBool: Bool { decimals < 0 }

    /// Whether `x` is within the safety floor.
    public func isSafe(_ x: Int64) -> Bool { safe.map { $0.contains(x) } ?? true }
    public var safeText: String { safe.map { "\(format($0.lowerBound)) to \(format($0.upperBound))\(unit.isEmpty ? "" : " " + unit)" } ?? rangeText }

    /// The settings of `v` beyond their floors.
    public static func unsafe(_ v: TunableValues) -> [Tunable] { all.filter { !$0.isSafe($0.get(v)) } }

    /// `v` with every setting beyond its floor put back to `fallback`'s value (the profile's,
    /// safe by construction): what the lane runs when maintenance mode ends. One definition,
    /// used by the tick and by the console's copy of the running values. No allocation.
    public static func relocked(_ v: TunableValues, fallback: TunableValues) -> TunableValues {
        var out = v
        for i in 0..<all.count where !all[i].isSafe(all[i].get(out)) { all[i].put(&out, all[i].get(fallback)) }
        return out
    }

    /// FNV-1a 64 of every tunable's running value (the heartbeat's settingsHash). No allocation.
    public static func hash(_ v: TunableValues) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<all.count {
            var x = UInt64(bitPattern: all[i].get(v))
            for _ in 0..<8 { h = (h ^ (x & 0xFF)) &* 0x0000_0100_0000_01B3; x >>= 8 }
        }
        return h
    }
    public var path: String { section + "." + key }

    static func q8(_ q: Int64) -> Int64 { (q * 100 + 128) >> 8 }
    static func fromHundredthsQ8(_ v: Int64) -> Int64 { (v * 256 + 50) / 100 }

    public static let all: [Tunable] = [
        Tunable(section: "detection", key: "gammaSigma", unit: "sigma", decimals: 2, min: 100, max: 5_000, safe: 100...1_200,
                help: "gamma alarm threshold: counts above background, in standard deviations",
                get: { q8($0.engine.gammaSigmaQ8) }, put: { $0.engine.gammaSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "learnSigma", unit: "sigma", decimals: 2, min: 0, max: 5_000, safe: 0...1_200,
                help: "the lane learns its NORM from loads over this, never below gammaSigma (0: at gammaSigma)",
                get: { q8($0.engine.learnSigmaQ8) }, put: { $0.engine.learnSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "gammaCeilingSigma", unit: "sigma", decimals: 2, min: 100, max: 100_000, safe: 100...4_000,
                help: "above this, any gamma excess alarms, NORM-like or not (not below gammaSigma)",
                get: { q8($0.engine.gammaCeilingSigmaQ8) }, put: { $0.engine.gammaCeilingSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "spectralSigma", unit: "sigma", decimals: 2, min: 0, max: 5_000, safe: 0...1_000,
                help: "multi-window panels: an excess whose spectrum none of the lane's NORM shapes explains beyond this alarms",
                get: { q8($0.engine.spectralSigmaQ8) }, put: { $0.engine.spectralSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "spectralNormSigma", unit: "sigma", decimals: 2, min: -5_000, max: 5_000, safe: -5_000...300,
                help: "multi-window panels: a spectrum a NORM shape explains within this (chi^2 sd; below -8: never) overrules the surplus test",
                get: { q8($0.engine.spectralNormSigmaQ8) }, put: { $0.engine.spectralNormSigmaQ8 = fromHundredthsQ8($1) }),
        // The same floor as spectralNormSigma: with the level guard (LaneEngine.confidentNorm) the
        // overrule cost no threat its Pd on the medium family (docs/DETECTION.md).
        Tunable(section: "detection", key: "spectralNormShareSigma", unit: "sigma", decimals: 2, min: -5_000, max: 5_000, safe: -5_000...300,
                help: "multi-window panels with checkSourceShapes: a spectrum a NORM shape explains within this (chi^2 sd; below -8: never) overrules the share test too (not above spectralSigma)",
                get: { q8($0.engine.spectralNormShareSigmaQ8) }, put: { $0.engine.spectralNormShareSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "hardBinDivisor", unit: "", decimals: 0, min: 20, max: 200, safe: 20...100,
                help: "multi-window panels: a learned NORM bin harder than the median load's explains once it holds 1/this of all loads (20: as every bin)",
                get: { Int64($0.engine.spectralHardBinDivisor) }, put: { $0.engine.spectralHardBinDivisor = Int($1) }),
        Tunable(section: "detection", key: "directedSigma", unit: "sigma", decimals: 2, min: 0, max: 5_000, safe: 0...500,
                help: "multi-window panels with checkSourceShapes: a NORM shape plus a check source's explaining the excess better than NORM alone by this much alarms",
                get: { q8($0.engine.spectralDirectedSigmaQ8) }, put: { $0.engine.spectralDirectedSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "matchedSigma", unit: "sigma", decimals: 2, min: 0, max: 5_000, safe: 0...5_000,
                help: "multi-window panels with checkSourceShapes: a window whose counts lean to a check source's shape beyond this (the level free; 0: off) is judged by the spectral tests, below the gross threshold too",
                get: { q8($0.engine.spectralMatchedSigmaQ8) }, put: { $0.engine.spectralMatchedSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "matchedDirectedSigma", unit: "sigma", decimals: 2, min: 0, max: 5_000, safe: 0...5_000,
                help: "the matched test's verdict: the check source's shape must explain a candidate better than the lane's NORM alone by this much",
                get: { q8($0.engine.spectralMatchedDirectedSigmaQ8) }, put: { $0.engine.spectralMatchedDirectedSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "matchedMisfitSigma", unit: "sigma", decimals: 2, min: -5_000, max: 5_000, safe: -5_000...5_000,
                help: "the matched test's verdict on a load no NORM shape fits: the check source's gain judged in units of the misfit it leaves beyond this (chi^2 sd; below 0: off)",
                get: { q8($0.engine.spectralMatchedMisfitSigmaQ8) }, put: { $0.engine.spectralMatchedMisfitSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "neutronSigma", unit: "sigma", decimals: 2, min: 100, max: 5_000, safe: 100...1_200,
                help: "neutron alarm threshold, in standard deviations",
                get: { q8($0.engine.neutronSigmaQ8) }, put: { $0.engine.neutronSigmaQ8 = fromHundredthsQ8($1) }),
        Tunable(section: "detection", key: "neutronMinExcessCounts", unit: "counts", decimals: 0, min: 0, max: 10_000, safe: 0...20,
                help: "a neutron alarm needs at least this many counts above background",
                get: { $0.engine.neutronExcessMin }, put: { $0.engine.neutronExcessMin = $1 }),
        Tunable(section: "detection", key: "normDiscrimination", unit: "", decimals: -1, min: 0, max: 1,
                help: "true: a NORM-like excess is reported but does not raise the gamma alarm",
                get: { $0.engine.normDiscrimination ? 1 : 0 }, put: { $0.engine.normDiscrimination = $1 != 0 }),
        Tunable(section: "detection", key: "normLowShareMin", unit: "share", decimals: 2, min: 0, max: 100, safe: 0...85,
                help: "an excess with a smaller low-energy share than this is NORM-like",
                get: { ($0.engine.normLowShareMinQ16 * 100 + 32_768) >> 16 }, put: { $0.engine.normLowShareMinQ16 = ($1 * 65_536 + 50) / 100 }),
        Tunable(section: "detection", key: "normFromTraffic", unit: "", decimals: -1, min: 0, max: 1,
                help: "true: the NORM rule comes from the lane's own traffic and checkSourceLowShare (normDiscrimination and normLowShareMin are then not used)",
                get: { $0.engine.normFromTraffic ? 1 : 0 }, put: { $0.engine.normFromTraffic = $1 != 0 }),
        Tunable(section: "detection", key: "checkSourceLowShare", unit: "share", decimals: 2, min: 0, max: 100, safe: 0...90,
                help: "the Cs-137 check source's low-energy share, measured at commissioning (0: not measured, NORM discrimination stays off)",
                get: { ($0.engine.checkSourceLowShareQ16 * 100 + 32_768) >> 16 }, put: { $0.engine.checkSourceLowShareQ16 = ($1 * 65_536 + 50) / 100 }),
        Tunable(section: "detection", key: "holdInS", unit: "s", decimals: 1, min: 0, max: 600, safe: 5...100,
                help: "the occupancy lasts this long after the last beam clears",
                get: { $0.engine.holdInUs / 100_000 }, put: { $0.engine.holdInUs = $1 * 100_000 }),
        Tunable(section: "detection", key: "gammaBackgroundHighCps", unit: "counts/s", decimals: 0, min: 0, max: 10_000_000,
                help: "background-high fault above this gamma rate, all panels (0: off)",
                get: { $0.engine.gammaBackgroundHighCps }, put: { $0.engine.gammaBackgroundHighCps = $1 }),
        Tunable(section: "detection", key: "gammaBackgroundLowCps", unit: "counts/s", decimals: 0, min: 0, max: 10_000_000,
                help: "background-low fault below this gamma rate, all panels (0: off)",
                get: { $0.engine.gammaBackgroundLowCps }, put: { $0.engine.gammaBackgroundLowCps = $1 }),
        Tunable(section: "outputs", key: "sirenS", unit: "s", decimals: 1, min: 0, max: 6_000, safe: 20...6_000,
                help: "how long the siren sounds for an alarm (unless silenced)",
                get: { $0.sirenUs / 100_000 }, put: { $0.sirenUs = $1 * 100_000 }),
        Tunable(section: "outputs", key: "alarmLightHoldS", unit: "s", decimals: 1, min: 0, max: 36_000, safe: 50...36_000,
                help: "the alarm lights stay on this long after the alarm (unless cleared)",
                get: { $0.alarmLightHoldUs / 100_000 }, put: { $0.alarmLightHoldUs = $1 * 100_000 }),
    ]

    /// Reads this setting from its board-profile section into `v` (absent: `v` keeps its value),
    /// with the same range and precision as `set` on the console: one definition of each.
    func read(from s: YAMLSection, into v: inout TunableValues, enforceFloors: Bool = true) throws {
        if isBool {
            put(&v, try s.bool(key, default: get(v) != 0) ? 1 : 0)
            return
        }
        var scale: Double = 1
        for _ in 0..<decimals { scale *= 10 }
        let x = try s.double(key, Double(min) / scale...Double(max) / scale, default: Double(get(v)) / scale)
        let scaled = (x * scale).rounded()
        guard abs(x * scale - scaled) < 1e-6 else {
            throw s.error(key, "at most \(decimals) digit\(decimals == 1 ? "" : "s") after the decimal point, found \(x)", at: s.value(key))
        }
        guard isSafe(Int64(scaled)) || !enforceFloors else {
            throw s.error(key, "\(format(Int64(scaled))) is beyond its safety floor (\(safeText)): the lane would be blind or blunted; only a technician's maintenance mode may pass it, for a while (docs/SECURITY.md)", at: s.value(key))
        }
        put(&v, Int64(scaled))
    }

    public static func named(_ name: String) -> Tunable? {
        all.first { $0.key == name || $0.path == name }
    }

    /// The value as text: "7.25", "7", "true".
    public func text(_ v: TunableValues) -> String { format(get(v)) }

    public func format(_ x: Int64) -> String {
        if isBool { return x != 0 ? "true" : "false" }
        if decimals == 0 { return String(x) }
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let whole = x / scale, frac = abs(x % scale)
        var f = String(frac)
        while f.count < decimals { f = "0" + f }
        while f.hasSuffix("0") { f.removeLast() }
        return (x < 0 && whole == 0 ? "-" : "") + String(whole) + (f.isEmpty ? "" : "." + f)
    }

    public var rangeText: String {
        isBool ? "true or false" : "\(format(min)) to \(format(max))\(unit.isEmpty ? "" : " " + unit)"
    }

    /// Reads a value strictly; nil with the reason if it is not one.
    public func parse(_ s: String) -> Result<Int64, TunableError> {
        if isBool {
            switch s {
            case "true", "on", "yes": return .success(1)
            case "false", "off", "no": return .success(0)
            default: return .failure(TunableError("\(key): expected true or false, found '\(s)'"))
            }
        }
        let bytes = Array(s.utf8)
        let v = bytes.withUnsafeBufferPointer { ConsoleNumber.decimal($0, decimals: decimals, min: min, max: max) }
        if let v { return .success(v) }
        let loose = bytes.withUnsafeBufferPointer { ConsoleNumber.decimal($0, decimals: 9, min: Int64.min, max: Int64.max) }
        if loose != nil, bytes.withUnsafeBufferPointer({ ConsoleNumber.decimal($0, decimals: decimals, min: Int64.min, max: Int64.max) }) == nil {
            return .failure(TunableError("\(key): at most \(decimals) digit\(decimals == 1 ? "" : "s") after the decimal point, found '\(s)'"
                + (decimals == 0 ? " (a whole number)" : "")))
        }
        if loose != nil { return .failure(TunableError("\(key): \(s) is out of range: \(rangeText)")) }
        return .failure(TunableError("\(key): expected a number (\(rangeText)), found '\(s)'"))
    }

    public func apply(_ x: Int64, to v: inout TunableValues) { put(&v, x) }
}

public struct TunableError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

public enum ProfileEditor {
    /// The profile text with each tunable that differs from `values` rewritten in place (the
    /// value's own characters only: comments and layout stay), or added under its section.
    public static func rewrite(_ text: String, file: String, to values: TunableValues) throws -> String {
        let current = try BoardProfile.parse(text, file: file, mapDirectory: ((file as NSString).deletingLastPathComponent) + "/panels")
        let onDisk = TunableValues(current)
        var lines = text.components(separatedBy: "\n")
        guard let root = try Yams.compose(yaml: text), case let .mapping(m) = root else { throw TunableError("\(file): not a YAML mapping") }
        var appended: [String: [String]] = [:]
        for t in Tunable.all where t.get(onDisk) != t.get(values) {
            let newText = t.text(values)
            let sectionNode = m.first { if case let .scalar(k) = $0.key { return k.string == t.section } else { return false } }
            if let sec = sectionNode?.value, case let .mapping(sm) = sec {
                if let pair = sm.first(where: { if case let .scalar(k) = $0.key { return k.string == t.key } else { return false } }),
                   case .scalar = pair.value, let mark = pair.value.mark {
                    let li = mark.line - 1
                    let line = Array(lines[li].utf8)
                    let start = mark.column - 1
                    var end = start
                    while end < line.count && line[end] != UInt8(ascii: " ") && line[end] != UInt8(ascii: ",") && line[end] != UInt8(ascii: "}")
                        && line[end] != UInt8(ascii: "#") { end += 1 }
                    lines[li] = String(decoding: line[0..<start], as: UTF8.self) + newText + String(decoding: line[end...], as: UTF8.self)
                } else if let first = sm.first?.key.mark, sm.style != .flow {
                    // Insert after the last key of the section, indented as its first key.
                    let indent = String(repeating: " ", count: first.column - 1)
                    let lastLine = sm.map { ($0.value.mark?.line ?? $0.key.mark?.line ?? first.line) }.max() ?? first.line
                    lines.insert(indent + t.key + ": " + newText, at: lastLine)
                } else {
                    throw TunableError("\(file): cannot add \(t.path) to a one-line '\(t.section)' section; edit the file by hand")
                }
            } else if sectionNode != nil {
                throw TunableError("\(file): \(t.section) is not a section of keys")
            } else {
                appended[t.section, default: []].append("  " + t.key + ": " + newText)
            }
        }
        for (section, keys) in appended.sorted(by: { $0.key < $1.key }) {
            if lines.last == "" { lines.removeLast() }
            lines.append(section + ":")
            lines.append(contentsOf: keys)
            lines.append("")
        }
        let out = lines.joined(separator: "\n")
        // The result must read back as a valid profile holding exactly these values.
        let check = try BoardProfile.parse(out, file: file, mapDirectory: ((file as NSString).deletingLastPathComponent) + "/panels")
        guard TunableValues(check) == values else {
            throw TunableError("\(file): the rewritten profile does not read back the new values; nothing was written")
        }
        return out
    }

    /// Writes the file atomically (temporary file, fsync, rename), keeping the old one as FILE.bak.
    public static func save(_ text: String, to file: String) throws {
        do throws(SysError) {
            // The old file stays beside it as FILE.bak.
            try Sys.unlink(file + ".bak")
            try Sys.link(file, file + ".bak")
            try Sys.writeFileAtomically(file, Array(text.utf8))
        } catch {
            throw TunableError("\(file): cannot replace the profile: \(error)")
        }
    }
}

/// Safety floors of the detection settings only the board profile sets (the engine sizes its
/// windows and averages from them at start): beyond these the lane would be blunted (a window so
/// long a passing source is diluted in background) or blind (a background that follows a parked
/// source within seconds). One definition each, checked when a profile loads (docs/SECURITY.md).
public struct ProfileFloor: Sendable {
    public let key: String
    public let unit: String
    public let safe: ClosedRange<Double>
    public let why: String
    /// Values outside `safe` that are safe all the same (0: a feature turned off).
    public var alsoSafe: [Double] = []

    public static let all: [ProfileFloor] = [
        ProfileFloor(key: "gammaWindowS", unit: "s", safe: 0.1...4, why: "a longer gross-count window dilutes a passing source"),
        ProfileFloor(key: "gammaWindowMinS", unit: "s", safe: 0.1...2, why: "a longer shortest window dilutes a fast truck's source"),
        ProfileFloor(key: "neutronWindowS", unit: "s", safe: 0.1...8, why: "a longer neutron window dilutes a passing source"),
        ProfileFloor(key: "viewLengthM", unit: "m", safe: 0...8, why: "a longer view makes the speed window longer than the source is in view"),
        ProfileFloor(key: "backgroundTimeConstantS", unit: "s", safe: 10...3_600, why: "a shorter average learns a parked source as background"),
        ProfileFloor(key: "neutronBurstClip", unit: "counts", safe: 2...1_000_000, why: "a smaller clip caps a real neutron source's counts (0 turns clipping off)",
                     alsoSafe: [0]),
    ]

    var safeText: String { "\(Self.number(safe.lowerBound)) to \(Self.number(safe.upperBound)) \(unit)" }
    public static func number(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }

    /// Refuses a profile's detection section whose value for one of these keys is beyond its floor.
    static func check(_ det: YAMLSection) throws {
        for f in all where det.value(f.key) != nil {
            let x = try det.double(f.key, -1e12...1e12)
            guard f.safe.contains(x) || f.alsoSafe.contains(x) else {
                throw det.error(f.key, "\(number(x)) is beyond its safety floor (\(f.safeText)): \(f.why); the lane would be blunted", at: det.value(f.key))
            }
        }
    }
}
