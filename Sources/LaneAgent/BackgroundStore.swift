// The learned background, kept on disk so that a lane restarted after a power cut screens at once
// with what it had learned (a lane that starts with a truck parked in it has nothing to learn
// from), and says how old it is. The tick hands a copy of the engine's background to a bounded
// queue every `saveIntervalUs` while the lane is empty and the background ready; a thread writes
// it atomically beside the journal. At start-up a file no older than `maxAgeUs`, written by this
// build's layout for this lane's panels and sample interval, and whole (CRC-32C), is restored;
// anything else is refused with the reason in the log, and the lane learns afresh.
//
// File: one header line of text, then the `Background` value's bytes, then the `NormLearner`'s
// (what the lane learned of its NORM loads), then the CRC-32C of all that (4 bytes,
// little-endian). Both are fixed-size values of integers; their layout versions and sizes are in
// the header, so a build whose layout differs refuses the file instead of misreading it. The
// NORM learner is restored whatever the background's age (it holds weeks of loads; the background
// an hour at most); a file of version 1 (no learner) still gives its background. Version 3 adds,
// on a lane with multi-window panels, the spectral test's `SpectralState` (its NORM shapes and the
// empty lane's spectrum, restored like the learner, whatever the age: the empty-lane spectrum is
// learned afresh with a background that is not restored), for the lane's K windows. Version 4
// adds, last, the `ShieldingLearner` (how the lane's vehicles shield its low window against the
// high one), restored like the learner, whatever the age; a file of version 3 or older restores
// none (the lane learns it again from its next clean vehicles). Its layout 2 adds each energy
// window's histogram after the low window's; a file with layout 1 (the low window's alone, as
// session 16 wrote it) still restores that, the windows' to learn afresh. Layout 3 adds the
// vehicle-to-vehicle spread's counts; a file of layout 2 (session 17) restores the histograms and
// the spread is learned afresh.

import Foundation
import LaneCore
import LaneHAL

public struct BackgroundStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var description: String { message }
    init(_ m: String) { message = m }
}

public enum BackgroundStore {
    /// How often the background is written (while the lane is empty and it is ready).
    public static let saveIntervalUs: Int64 = 300_000_000
    /// The oldest background restored at start: older, the site has changed too much (rain,
    /// radon, a moved container stack) and the lane learns afresh.
    public static let maxAgeUs: Int64 = 3_600_000_000

    static func header(_ settings: EngineSettings, savedWallUs: Int64) -> String {
        let k = settings.spectralWindowCount
        return "lane-background v4 layout=\(Background.layoutVersion) size=\(MemoryLayout<Background>.size) "
            + "norm-layout=\(NormLearner.layoutVersion) norm-size=\(MemoryLayout<NormLearner>.size) panels=\(settings.panelCount) "
            + "interval=\(settings.sampleIntervalUs) saved=\(savedWallUs)"
            + (k >= 3 ? " windows=\(k) spectral-layout=\(SpectralState.layoutVersion) spectral-size=\(MemoryLayout<SpectralState>.size)" : "")
            + " shielding-layout=\(ShieldingLearner.layoutVersion) shielding-size=\(MemoryLayout<ShieldingLearner>.size)\n"
    }

    public static func encode(_ b: Background, norm: NormLearner = NormLearner(), spectral: SpectralState = SpectralState(),
                              shielding: ShieldingLearner = ShieldingLearner(), settings: EngineSettings, savedWallUs: Int64) -> [UInt8] {
        var out = Array(header(settings, savedWallUs: savedWallUs).utf8)
        var copy = b
        withUnsafeBytes(of: &copy) { out.append(contentsOf: $0) }
        var n = norm
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        if settings.spectralWindowCount >= 3 {
            var sp = spectral
            withUnsafeBytes(of: &sp) { out.append(contentsOf: $0) }
        }
        var sh = shielding
        withUnsafeBytes(of: &sh) { out.append(contentsOf: $0) }
        let crc = out.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
        return out
    }

    /// The header's fields and where the payload starts, after checking the header and the CRC.
    static func checked(_ bytes: [UInt8], settings: EngineSettings) -> Result<(fields: [String: Int64], start: Int, version: Int), BackgroundStoreError> {
        guard let nl = bytes.firstIndex(of: 0x0A), nl < 300 else { return .failure(.init("no header line")) }
        let line = String(decoding: bytes[..<nl], as: UTF8.self)
        var fields: [String: Int64] = [:]
        let words = line.split(separator: " ")
        guard words.count >= 2, words[0] == "lane-background", ["v1", "v2", "v3", "v4"].contains(words[1]) else {
            return .failure(.init("not a lane background file (header '\(line.prefix(40))')"))
        }
        let version = words[1] == "v1" ? 1 : words[1] == "v2" ? 2 : words[1] == "v3" ? 3 : 4
        for w in words.dropFirst(2) {
            let kv = w.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Int64(kv[1]) else { return .failure(.init("header field '\(w)' is not name=integer")) }
            fields[String(kv[0])] = v
        }
        let size = MemoryLayout<Background>.size
        guard fields["layout"] == Int64(Background.layoutVersion), fields["size"] == Int64(size) else {
            return .failure(.init("written by a build with another background layout (layout \(fields["layout"] ?? -1), \(fields["size"] ?? -1) bytes; this build \(Background.layoutVersion), \(size))"))
        }
        var payload = size
        if version >= 2 {
            let nsize = MemoryLayout<NormLearner>.size
            guard fields["norm-layout"] == Int64(NormLearner.layoutVersion), fields["norm-size"] == Int64(nsize) else {
                return .failure(.init("written by a build with another NORM learner layout (layout \(fields["norm-layout"] ?? -1), \(fields["norm-size"] ?? -1) bytes; this build \(NormLearner.layoutVersion), \(nsize))"))
            }
            payload += nsize
        }
        if let k = fields["windows"] {
            // Multi-window panels: the spectral state follows, for this many windows.
            let ssize = MemoryLayout<SpectralState>.size
            guard version >= 3, fields["spectral-layout"] == Int64(SpectralState.layoutVersion), fields["spectral-size"] == Int64(ssize) else {
                return .failure(.init("written by a build with another spectral-test layout (layout \(fields["spectral-layout"] ?? -1), \(fields["spectral-size"] ?? -1) bytes; this build \(SpectralState.layoutVersion), \(ssize))"))
            }
            guard k >= 3 && k <= Int64(windowCountMax) else { return .failure(.init("for \(k) energy windows, which no panel has")) }
            payload += ssize
        }
        if version >= 4 {
            // Last: the shielding learner.
            let hsize = shieldingSize(layout: fields["shielding-layout"])
            guard hsize > 0, fields["shielding-size"] == Int64(hsize) else {
                return .failure(.init("written by a build with another shielding learner layout (layout \(fields["shielding-layout"] ?? -1), \(fields["shielding-size"] ?? -1) bytes; this build \(ShieldingLearner.layoutVersion), \(MemoryLayout<ShieldingLearner>.size), or layout 2, \(MemoryLayout<ShieldingLayout2>.size), or layout 1, \(MemoryLayout<HalvingHistogram>.size))"))
            }
            payload += hsize
        }
        guard fields["panels"] == Int64(settings.panelCount) else {
            return .failure(.init("for \(fields["panels"] ?? -1) panels, this lane has \(settings.panelCount)"))
        }
        guard fields["interval"] == settings.sampleIntervalUs else {
            return .failure(.init("for a sample interval of \(fields["interval"] ?? -1) us, this lane samples every \(settings.sampleIntervalUs) us"))
        }
        guard fields["saved"] != nil else { return .failure(.init("no save time in the header")) }
        guard bytes.count == nl + 1 + payload + 4 else { return .failure(.init("\(bytes.count) bytes, expected \(nl + 1 + payload + 4) (cut short or padded)")) }
        let crc = bytes.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, nl + 1 + payload) }
        let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[nl + 1 + payload + $1]) << (8 * UInt32($1)) }
        guard crc == stored else { return .failure(.init("CRC mismatch: the file is damaged")) }
        return .success((fields, nl + 1, version))
    }

    /// The background in `bytes` and its age, or why it cannot be used.
    public static func decode(_ bytes: [UInt8], settings: EngineSettings, nowWallUs: Int64, maxAgeUs: Int64 = maxAgeUs)
        -> Result<(background: Background, ageUs: Int64), BackgroundStoreError> {
        let (fields, start, _): ([String: Int64], Int, Int)
        switch checked(bytes, settings: settings) {
        case let .failure(e): return .failure(e)
        case let .success(c): (fields, start, _) = c
        }
        let saved = fields["saved"]!
        let age = nowWallUs - saved
        guard age >= -60_000_000 else { return .failure(.init("saved \(-age / 1_000_000) s in the future (the clock was set back?)")) }
        guard age <= maxAgeUs else { return .failure(.init("saved \(age / 60_000_000) min ago, older than \(maxAgeUs / 60_000_000) min")) }
        let b = value(Background(), from: bytes, at: start)
        guard b.isReady(settings) else { return .failure(.init("the saved background was not ready (\(b.samplesLearned) samples)")) }
        return .success((b, max(0, age)))
    }

    /// What the lane had learned of its NORM loads, whatever the file's age; nil for a file of
    /// version 1 (none kept), or why it cannot be used.
    public static func decodeNorm(_ bytes: [UInt8], settings: EngineSettings) -> Result<NormLearner?, BackgroundStoreError> {
        switch checked(bytes, settings: settings) {
        case let .failure(e): return .failure(e)
        case let .success((_, start, version)):
            guard version >= 2 else { return .success(nil) }
            let at = start + MemoryLayout<Background>.size
            let raw = value(NormLearner(), from: bytes, at: at)
            // Rebuilt through its checked initialiser: counts that do not add up are refused.
            guard let n = NormLearner(fields: { raw.field($0) }) else { return .failure(.init("the NORM learner's counts do not add up")) }
            return .success(n)
        }
    }

    /// What the spectral test had learned (multi-window panels), whatever the file's age: nil
    /// when the file keeps none (an older file, or a two-window lane's), or why it cannot be used
    /// (kept for another number of windows than this lane's, or values no learner holds).
    public static func decodeSpectral(_ bytes: [UInt8], settings: EngineSettings) -> Result<SpectralState?, BackgroundStoreError> {
        switch checked(bytes, settings: settings) {
        case let .failure(e): return .failure(e)
        case let .success((fields, start, _)):
            guard let k = fields["windows"] else { return .success(nil) }
            guard k == Int64(settings.spectralWindowCount) else {
                return .failure(.init("kept for \(k) energy windows, this lane's panels have \(settings.spectralWindowCount)"))
            }
            let at = start + MemoryLayout<Background>.size + MemoryLayout<NormLearner>.size
            let raw = value(SpectralState(), from: bytes, at: at)
            // Rebuilt through its checked initialiser: values out of what the learner holds are refused.
            let n = settings.panelCount, kk = settings.spectralWindowCount
            guard let s = SpectralState(panels: n, windows: kk, fields: { raw.field($0, panels: n, windows: kk) }) else {
                return .failure(.init("the spectral test's values are out of range (a bin's loads beyond the loads in all, a share beyond +-2)"))
            }
            return .success(s)
        }
    }

    /// A fixed-size value of integers read from `bytes` at `at` (its layout checked by the header).
    static func value<T>(_ initial: T, from bytes: [UInt8], at: Int) -> T {
        var v = initial
        withUnsafeMutableBytes(of: &v) { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[at..<(at + MemoryLayout<T>.size)])) }
        }
        return v
    }

    /// The stored shielding learner's size for a layout this build reads (0: none): layout 1 was
    /// the low window's histogram alone.
    static func shieldingSize(layout: Int64?) -> Int {
        layout == Int64(ShieldingLearner.layoutVersion) ? MemoryLayout<ShieldingLearner>.size
            : layout == 2 ? MemoryLayout<ShieldingLayout2>.size
            : layout == 1 ? MemoryLayout<HalvingHistogram>.size : 0
    }

    /// Layout 2 (session 17): the low window's histogram and each energy window's, no spread.
    typealias ShieldingLayout2 = InlineArray<17, HalvingHistogram>

    /// What the lane had learned of its vehicles' shielding, whatever the file's age: nil for a
    /// file of version 3 or older (none kept), or why it cannot be used.
    public static func decodeShielding(_ bytes: [UInt8], settings: EngineSettings) -> Result<ShieldingLearner?, BackgroundStoreError> {
        switch checked(bytes, settings: settings) {
        case let .failure(e): return .failure(e)
        case let .success((fields, start, version)):
            guard version >= 4 else { return .success(nil) }
            let at = start + MemoryLayout<Background>.size + MemoryLayout<NormLearner>.size
                + (fields["windows"] != nil ? MemoryLayout<SpectralState>.size : 0)
            // Rebuilt through its checked initialiser: values no learner holds are refused.
            let l: ShieldingLearner?
            if fields["shielding-layout"] == 1 {
                // The low window's histogram alone: the windows' histograms start empty.
                let raw = value(HalvingHistogram(), from: bytes, at: at)
                l = ShieldingLearner(fields: { $0 < HalvingHistogram.fieldCount ? raw.field($0) : 0 })
            } else if fields["shielding-layout"] == 2 {
                // The histograms without the spread: the spread starts afresh.
                let raw = value(ShieldingLayout2(repeating: HalvingHistogram()), from: bytes, at: at)
                let n = HalvingHistogram.fieldCount
                l = ShieldingLearner(fields: { $0 < 17 * n ? raw[$0 / n].field($0 % n) : 0 })
            } else {
                let raw = value(ShieldingLearner(), from: bytes, at: at)
                l = ShieldingLearner(fields: { raw.field($0) })
            }
            guard let l else { return .failure(.init("the shielding learner's counts do not add up")) }
            return .success(l)
        }
    }

    /// Reads and checks the file at `path` (nil result: no file): the background, and apart
    /// the NORM learner, the spectral test's state and the shielding learner.
    public static func load(_ path: String, settings: EngineSettings, nowWallUs: Int64)
        -> (background: Result<(background: Background, ageUs: Int64), BackgroundStoreError>, norm: Result<NormLearner?, BackgroundStoreError>,
            spectral: Result<SpectralState?, BackgroundStoreError>, shielding: Result<ShieldingLearner?, BackgroundStoreError>)? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let d = FileManager.default.contents(atPath: path) else {
            let e = BackgroundStoreError("cannot read \(path)")
            return (.failure(e), .failure(e), .failure(e), .failure(e))
        }
        let bytes = [UInt8](d)
        return (decode(bytes, settings: settings, nowWallUs: nowWallUs), decodeNorm(bytes, settings: settings), decodeSpectral(bytes, settings: settings),
                decodeShielding(bytes, settings: settings))
    }
}

/// Writes the backgrounds the tick hands over, on its own thread, atomically.
public final class BackgroundKeeper: @unchecked Sendable {
    let queue = BoundedQueue<(Background, NormLearner, SpectralState, ShieldingLearner, Int64)>(capacity: 2)
    public let path: String
    let settings: EngineSettings
    let log: (String) -> Void
    var writtenCount = 0
    var failureCount = 0
    var lastError = ""
    public var written: Int { writeLock.lock(); defer { writeLock.unlock() }; return writtenCount }
    public var failures: Int { writeLock.lock(); defer { writeLock.unlock() }; return failureCount }

    public init(path: String, settings: EngineSettings, log: @escaping (String) -> Void) {
        self.path = path
        self.settings = settings
        self.log = log
    }

    /// From the tick: a copy into preallocated storage (a full queue drops it; the next comes
    /// `saveIntervalUs` later).
    public func keep(_ b: Background, norm: NormLearner, spectral: SpectralState, shielding: ShieldingLearner, wallUs: Int64) {
        queue.push((b, norm, spectral, shielding, wallUs))
    }

    public func start(stop: @escaping @Sendable () -> Bool) {
        startThread(name: "background") { [self] in
            while !stop() {
                if let (b, n, sp, sh, wall) = queue.pop(timeoutS: 0.5) { write(b, n, sp, sh, wall) }
            }
        }
    }

    /// Writes what is still queued (at shutdown, after the tick's last hand-over).
    public func flush() {
        while let (b, n, sp, sh, wall) = queue.tryPop() { write(b, n, sp, sh, wall) }
    }

    let writeLock = NSLock()

    func write(_ b: Background, _ n: NormLearner, _ sp: SpectralState, _ sh: ShieldingLearner, _ wallUs: Int64) {
        writeLock.lock(); defer { writeLock.unlock() }
        do throws(SysError) {
            try Sys.writeFileAtomically(path, BackgroundStore.encode(b, norm: n, spectral: sp, shielding: sh, settings: settings, savedWallUs: wallUs))
            writtenCount += 1
            if !lastError.isEmpty { log("background: written to \(path) again"); lastError = "" }
        } catch {
            failureCount += 1
            if error.description != lastError { log("background: cannot keep it on disk: \(error)"); lastError = error.description }
        }
    }
}
