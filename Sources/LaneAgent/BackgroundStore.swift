// The learned background, kept on disk so that a lane restarted after a power cut screens at once
// with what it had learned (a lane that starts with a truck parked in it has nothing to learn
// from), and says how old it is. The tick hands a copy of the engine's background to a bounded
// queue every `saveIntervalUs` while the lane is empty and the background ready; a thread writes
// it atomically beside the journal. At start-up a file no older than `maxAgeUs`, written by this
// build's layout for this lane's panels and sample interval, and whole (CRC-32C), is restored;
// anything else is refused with the reason in the log, and the lane learns afresh.
//
// File: one header line of text, then the `Background` value's bytes, then the CRC-32C of all
// that (4 bytes, little-endian). `Background` is a fixed-size value of integers; its layout
// version (`Background.layoutVersion`) and size are in the header, so a build whose layout
// differs refuses the file instead of misreading it.

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
        "lane-background v1 layout=\(Background.layoutVersion) size=\(MemoryLayout<Background>.size) panels=\(settings.panelCount) "
            + "interval=\(settings.sampleIntervalUs) saved=\(savedWallUs)\n"
    }

    public static func encode(_ b: Background, settings: EngineSettings, savedWallUs: Int64) -> [UInt8] {
        var out = Array(header(settings, savedWallUs: savedWallUs).utf8)
        var copy = b
        withUnsafeBytes(of: &copy) { out.append(contentsOf: $0) }
        let crc = out.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
        return out
    }

    /// The background in `bytes` and its age, or why it cannot be used.
    public static func decode(_ bytes: [UInt8], settings: EngineSettings, nowWallUs: Int64, maxAgeUs: Int64 = maxAgeUs)
        -> Result<(background: Background, ageUs: Int64), BackgroundStoreError> {
        guard let nl = bytes.firstIndex(of: 0x0A), nl < 200 else { return .failure(.init("no header line")) }
        let line = String(decoding: bytes[..<nl], as: UTF8.self)
        var fields: [String: Int64] = [:]
        let words = line.split(separator: " ")
        guard words.count >= 2, words[0] == "lane-background", words[1] == "v1" else { return .failure(.init("not a lane background file (header '\(line.prefix(40))')")) }
        for w in words.dropFirst(2) {
            let kv = w.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Int64(kv[1]) else { return .failure(.init("header field '\(w)' is not name=integer")) }
            fields[String(kv[0])] = v
        }
        let size = MemoryLayout<Background>.size
        guard fields["layout"] == Int64(Background.layoutVersion), fields["size"] == Int64(size) else {
            return .failure(.init("written by a build with another background layout (layout \(fields["layout"] ?? -1), \(fields["size"] ?? -1) bytes; this build \(Background.layoutVersion), \(size))"))
        }
        guard fields["panels"] == Int64(settings.panelCount) else {
            return .failure(.init("for \(fields["panels"] ?? -1) panels, this lane has \(settings.panelCount)"))
        }
        guard fields["interval"] == settings.sampleIntervalUs else {
            return .failure(.init("for a sample interval of \(fields["interval"] ?? -1) us, this lane samples every \(settings.sampleIntervalUs) us"))
        }
        guard let saved = fields["saved"] else { return .failure(.init("no save time in the header")) }
        guard bytes.count == nl + 1 + size + 4 else { return .failure(.init("\(bytes.count) bytes, expected \(nl + 1 + size + 4) (cut short or padded)")) }
        let crc = bytes.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, nl + 1 + size) }
        let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[nl + 1 + size + $1]) << (8 * UInt32($1)) }
        guard crc == stored else { return .failure(.init("CRC mismatch: the file is damaged")) }
        let age = nowWallUs - saved
        guard age >= -60_000_000 else { return .failure(.init("saved \(-age / 1_000_000) s in the future (the clock was set back?)")) }
        guard age <= maxAgeUs else { return .failure(.init("saved \(age / 60_000_000) min ago, older than \(maxAgeUs / 60_000_000) min")) }
        var b = Background()
        withUnsafeMutableBytes(of: &b) { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(nl + 1)..<(nl + 1 + size)])) }
        }
        guard b.isReady(settings) else { return .failure(.init("the saved background was not ready (\(b.samplesLearned) samples)")) }
        return .success((b, max(0, age)))
    }

    /// Reads and checks the file at `path` (nil result: no file).
    public static func load(_ path: String, settings: EngineSettings, nowWallUs: Int64) -> Result<(background: Background, ageUs: Int64), BackgroundStoreError>? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let d = FileManager.default.contents(atPath: path) else { return .failure(.init("cannot read \(path)")) }
        return decode([UInt8](d), settings: settings, nowWallUs: nowWallUs)
    }
}

/// Writes the backgrounds the tick hands over, on its own thread, atomically.
public final class BackgroundKeeper: @unchecked Sendable {
    let queue = BoundedQueue<(Background, Int64)>(capacity: 2)
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
    public func keep(_ b: Background, wallUs: Int64) { queue.push((b, wallUs)) }

    public func start(stop: @escaping @Sendable () -> Bool) {
        startThread(name: "background") { [self] in
            while !stop() {
                if let (b, wall) = queue.pop(timeoutS: 0.5) { write(b, wall) }
            }
        }
    }

    /// Writes what is still queued (at shutdown, after the tick's last hand-over).
    public func flush() {
        while let (b, wall) = queue.tryPop() { write(b, wall) }
    }

    let writeLock = NSLock()

    func write(_ b: Background, _ wallUs: Int64) {
        writeLock.lock(); defer { writeLock.unlock() }
        do throws(SysError) {
            try Sys.writeFileAtomically(path, BackgroundStore.encode(b, settings: settings, savedWallUs: wallUs))
            writtenCount += 1
            if !lastError.isEmpty { log("background: written to \(path) again"); lastError = "" }
        } catch {
            failureCount += 1
            if error.description != lastError { log("background: cannot keep it on disk: \(error)"); lastError = error.description }
        }
    }
}
