// Authentic records (docs/SECURITY.md, "Authentic records"): every frame the lane sends is
// followed by a seal, a message authentication code under a per-lane key, over the lane's id and
// the whole frame (its epoch, sequence, kind and body). The collector verifies it before it
// keys the record by lane, epoch and sequence, so nothing forged can displace a genuine record.
//
//     sealed frame = frame (docs/RECORDS.md) | 0xAB | key id (1 byte) | tag (16 bytes)
//     tag = HMAC-SHA256(key, "rpm-seal-1" | len(lane) | lane | frame without its magic byte)[0..<16]
//
// `lane` is "<site>/<lane>", exactly as in the topic. Keys are 32 random bytes, numbered 1-255;
// the lane seals with its newest key, the collector accepts any key of that lane not retired
// (two during a rotation). One definition, used by both sides.

import Crypto
import Foundation
import LaneCore

public enum Seal {
    public static let marker: UInt8 = 0xAB
    /// Marker, key id, 16-byte tag.
    public static let bytes = 18
    public static let tagBytes = 16
    static let context = Array("rpm-seal-1".utf8)

    /// The tag of `frame` (a whole frame, magic byte first) for `lane` under `key`.
    public static func tag(lane: String, frame: ArraySlice<UInt8>, key: SymmetricKey) -> [UInt8] {
        var h = HMAC<SHA256>(key: key)
        h.update(data: context)
        let id = Array(lane.utf8)
        h.update(data: [UInt8(truncatingIfNeeded: id.count)])
        h.update(data: id)
        h.update(data: frame.dropFirst())
        return Array(h.finalize()).prefix(tagBytes).map { $0 }
    }

    /// The seal that follows `frame`.
    public static func seal(lane: String, frame: ArraySlice<UInt8>, key: LaneKey) -> [UInt8] {
        [marker, key.id] + tag(lane: lane, frame: frame, key: key.key)
    }

    /// Whether `seal` (18 bytes) is the right one for `frame` under one of `keys`, comparing in
    /// constant time. Returns the key id used, or the reason it is refused.
    public static func verify(lane: String, frame: ArraySlice<UInt8>, seal: ArraySlice<UInt8>, keys: [LaneKey]) -> Result<UInt8, SealError> {
        guard seal.count == bytes, seal.first == marker else { return .failure(.unsealed) }
        let id = seal[seal.startIndex + 1]
        guard let k = keys.first(where: { $0.id == id }) else { return .failure(.unknownKey(id)) }
        if k.retired { return .failure(.retiredKey(id)) }
        let want = tag(lane: lane, frame: frame, key: k.key)
        var diff: UInt8 = 0
        for (a, b) in zip(want, seal.dropFirst(2)) { diff |= a ^ b }
        return diff == 0 ? .success(id) : .failure(.badTag(id))
    }
}

public enum SealError: Error, Equatable, Sendable, CustomStringConvertible {
    case unsealed, unknownKey(UInt8), retiredKey(UInt8), badTag(UInt8)
    public var description: String {
        switch self {
        case .unsealed: return "the frame carries no seal (an unauthenticated sender)"
        case let .unknownKey(id): return "sealed under key \(id), which is not this lane's"
        case let .retiredKey(id): return "sealed under key \(id), which was retired"
        case let .badTag(id): return "the seal does not match under key \(id): forged or altered"
        }
    }
}

/// One key of a lane.
public struct LaneKey: Sendable {
    public var id: UInt8
    /// The key's 32 bytes.
    public var bytes: [UInt8]
    public var retired: Bool
    public init(id: UInt8, bytes: [UInt8], retired: Bool = false) { self.id = id; self.bytes = bytes; self.retired = retired }

    public var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// 32 random bytes from the system's generator (swift-crypto's).
    public static func generate(id: UInt8) -> LaneKey {
        LaneKey(id: id, bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    public var hex: String { bytes.map { String(format: "%02x", $0) }.joined() }
}

public struct KeyFileError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ d: String) { description = d }
}

/// Key files: the lane's (`<id> <64 hex digits>` per line: it seals with the highest id) and the
/// collector's (`<site>/<lane> <id> <64 hex digits> [retired]` per line). `#` starts a comment.
/// Both must not be readable by others (mode 0600 or stricter): a key that others can read is
/// refused, not used.
public enum KeyFile {
    static func lines(_ path: String) throws -> [(Int, [Substring])] {
        var st = stat()
        guard stat(path, &st) == 0 else { throw KeyFileError("\(path): cannot read the key file: \(String(cString: strerror(errno)))") }
        guard st.st_mode & 0o077 == 0 else {
            throw KeyFileError("\(path): the key file may be read by others (mode \(String(st.st_mode & 0o777, radix: 8))): chmod 600 it")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw KeyFileError("\(path): cannot read the key file") }
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { i, l in
            let t = l.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let f = t.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            return f.isEmpty ? nil : (i + 1, f)
        }
    }

    static func key(_ path: String, _ line: Int, id: Substring, hex: Substring, retired: Bool) throws -> LaneKey {
        guard let n = UInt8(id), n >= 1 else { throw KeyFileError("\(path):\(line): key id '\(id)': expected 1 to 255") }
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { throw KeyFileError("\(path):\(line): key \(n): expected 64 hex digits, found \(digits.count)") }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let b = UInt8(String(decoding: digits[i..<(i + 2)], as: UTF8.self), radix: 16) else {
                throw KeyFileError("\(path):\(line): key \(n): '\(hex)' is not hex")
            }
            bytes.append(b)
        }
        return LaneKey(id: n, bytes: bytes, retired: retired)
    }

    /// The lane's keys; it seals with the last (highest id).
    public static func loadLane(_ path: String) throws -> LaneKey {
        var keys: [LaneKey] = []
        for (n, f) in try lines(path) {
            guard f.count == 2 else { throw KeyFileError("\(path):\(n): expected '<id> <64 hex digits>'") }
            keys.append(try key(path, n, id: f[0], hex: f[1], retired: false))
        }
        guard let newest = keys.max(by: { $0.id < $1.id }) else { throw KeyFileError("\(path): no key") }
        return newest
    }

    /// The collector's keys per lane ("site/lane").
    public static func loadStation(_ path: String) throws -> [String: [LaneKey]] {
        var out: [String: [LaneKey]] = [:]
        for (n, f) in try lines(path) {
            guard f.count == 3 || (f.count == 4 && f[3] == "retired") else {
                throw KeyFileError("\(path):\(n): expected '<site>/<lane> <id> <64 hex digits> [retired]'")
            }
            let lane = String(f[0])
            guard LaneName.isValid(lane) else { throw KeyFileError("\(path):\(n): '\(lane)' is not a lane (<site>/<lane>: letters, digits, '.', '_', '-')") }
            let k = try key(path, n, id: f[1], hex: f[2], retired: f.count == 4)
            if out[lane]?.contains(where: { $0.id == k.id }) == true { throw KeyFileError("\(path):\(n): \(lane) has key \(k.id) twice") }
            out[lane, default: []].append(k)
        }
        return out
    }
}

/// Lane identifiers as the collector accepts them: `<site>/<lane>`, each part 1 to 32 of
/// letters, digits, '.', '_' and '-', starting with a letter or digit.
public enum LaneName {
    public static func isValidPart<S: StringProtocol>(_ s: S) -> Bool {
        let u = Array(s.utf8)
        guard (1...32).contains(u.count) else { return false }
        func ok(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        guard ok(u[0]) else { return false }
        return u.allSatisfy { ok($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }
    public static func isValid(_ lane: String) -> Bool {
        let parts = lane.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && isValidPart(parts[0]) && isValidPart(parts[1])
    }
}
