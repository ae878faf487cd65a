// Sharing policies as data (docs/SHARING.md): one YAML file per recipient says what may leave the
// station for it, for which designated purpose, and what becomes of container numbers. Every
// key is checked; an error names the file, the line and the key. Without a policy nothing is
// shared.

import Foundation
import LaneAgent
import LaneCore
import LaneSeal
import Yams

public struct SharingPolicy: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case decisions, alarms, samples, faults, heartbeats, adjudications }
    public enum Traffic: String, Sendable, CaseIterable {
        /// Every occupancy.
        case all
        /// Only occupancies with an alarm or NORM suspected, or a fault (anomalies).
        case alarms
    }
    public enum Containers: String, Sendable, CaseIterable {
        /// As read.
        case keep
        /// Replaced by a keyed hash (HMAC-SHA256 with the recipient's key): stable for one
        /// recipient, different between two, not reversible without the key.
        case hash
        /// Not shared at all.
        case remove
    }
    /// How the radiation data's N42 files are cut.
    public enum N42Files: String, Sendable, CaseIterable {
        /// One file per occupancy.
        case occupancy
        /// One file per lane and day (UTC), every shared occupancy of that day in it.
        case day
    }
    public enum Destinations: String, Sendable, CaseIterable {
        /// Any cargo.
        case all
        /// Only cargo bound for the recipient's country (the manifest says where each container goes).
        case recipient
        /// Everything but cargo bound for a third country (neither this port's nor the recipient's).
        case exceptThirdCountries
    }

    public var file: String
    public var recipient: String
    /// ISO 3166 alpha-2 code of the recipient's country (destination filters).
    public var recipientCountry: String
    /// This port's country (what is not third-country cargo).
    public var stationCountry: String
    public var purpose: String
    /// Lanes (`site/lane`); empty: none. `["*"]`: every lane.
    public var lanes: [String]
    public var kinds: Set<Kind>
    public var traffic: Traffic
    public var containers: Containers
    public var destinations: Destinations
    public var n42: N42Files = .occupancy
    /// The recipient's hashing key (32 bytes, hex, from `containerKeyFile`), for `containers: hash`.
    public var containerKey: [UInt8]?
    /// The period the policy allows (wall clock, Unix µs); a package's period must lie within.
    public var fromUs: Int64
    public var toUs: Int64
    /// The policy file's bytes, carried into every package.
    public var text: String

    /// Nothing: what is shared without a policy.
    public static let nothing = SharingPolicy(file: "(no policy)", recipient: "", recipientCountry: "", stationCountry: "", purpose: "", lanes: [],
                                              kinds: [], traffic: .alarms, containers: .remove, destinations: .recipient, containerKey: nil,
                                              fromUs: 0, toUs: 0, text: "")

    public func allows(lane: String) -> Bool { lanes.contains("*") || lanes.contains(lane) }

    public static func load(path: String) throws -> SharingPolicy {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ProfileError("\(path): cannot read the sharing policy")
        }
        return try parse(text, file: path)
    }

    static func date(_ s: YAMLSection, _ k: String) throws -> Int64 {
        let v = try s.string(k)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate]
        let full = ISO8601DateFormatter()
        guard let d = f.date(from: v) ?? full.date(from: v), d.timeIntervalSince1970 >= 0, d.timeIntervalSince1970 < 4_102_444_800 else {
            throw s.error(k, "expected a date (2026-11-01) or a time (2026-11-01T00:00:00Z), found '\(v)'", at: s.value(k))
        }
        return Int64(d.timeIntervalSince1970 * 1e6)
    }

    public static func parse(_ text: String, file: String) throws -> SharingPolicy {
        let root = try YAMLSection.root(file: file, text: text)
        try root.onlyKeys(["recipient", "recipientCountry", "stationCountry", "purpose", "lanes", "kinds", "traffic", "containers",
                           "containerKeyFile", "destinations", "n42", "from", "to"])
        let recipient = try root.string("recipient")
        guard recipient.allSatisfy({ $0.isLetter || $0.isNumber || "-_. ".contains($0) }) else {
            throw root.error("recipient", "letters, digits, spaces, '-', '_' or '.' only, found '\(recipient)'", at: root.value("recipient"))
        }
        func country(_ k: String) throws -> String {
            let c = try root.string(k)
            guard c.count == 2, c.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                throw root.error(k, "expected an ISO 3166 country code of two capital letters (NL), found '\(c)'", at: root.value(k))
            }
            return c
        }
        let purpose = try root.string("purpose")
        guard purpose.count >= 10 else { throw root.error("purpose", "the designated purpose, in words (at least 10 characters)", at: root.value("purpose")) }
        let lanes = try (root.list("lanes") ?? []).map { try root.scalar("lanes", $0, "a lane (site/lane) or *") }
        for l in lanes where l != "*" && !LaneName.isValid(l) {
            throw root.error("lanes", "'\(l)' is not a lane (<site>/<lane>) or *", at: root.value("lanes"))
        }
        var kinds: Set<Kind> = []
        for n in try root.list("kinds") ?? [] {
            let k = try root.scalar("kinds", n, "a record kind")
            guard let kind = Kind(rawValue: k) else {
                throw root.error("kinds", "'\(k)' is not one of: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))", at: n)
            }
            kinds.insert(kind)
        }
        let traffic = Traffic(rawValue: try root.oneOf("traffic", Traffic.allCases.map(\.rawValue)))!
        let containers = Containers(rawValue: try root.oneOf("containers", Containers.allCases.map(\.rawValue)))!
        let destinations = Destinations(rawValue: try root.oneOf("destinations", Destinations.allCases.map(\.rawValue), default: "all"))!
        var key: [UInt8]? = nil
        if containers == .hash {
            let keyFile = try root.string("containerKeyFile")
            let dir = (file as NSString).deletingLastPathComponent
            let path = keyFile.hasPrefix("/") ? keyFile : (dir.isEmpty ? "." : dir) + "/" + keyFile
            guard let hex = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
                  hex.count == 64, let bytes = hexBytes(hex) else {
                throw root.error("containerKeyFile", "\(path): expected 64 hex digits (a 32-byte key, one per recipient)", at: root.value("containerKeyFile"))
            }
            key = bytes
        } else if root.value("containerKeyFile") != nil {
            throw root.error("containerKeyFile", "only with containers: hash")
        }
        let from = try date(root, "from"), to = try date(root, "to")
        guard from < to else { throw root.error("to", "must be after from", at: root.value("to")) }
        let recipientCountry = destinations == .all && root.value("recipientCountry") == nil ? "" : try country("recipientCountry")
        let stationCountry = destinations == .exceptThirdCountries || root.value("stationCountry") != nil ? try country("stationCountry") : ""
        var policy = SharingPolicy(file: file, recipient: recipient, recipientCountry: recipientCountry, stationCountry: stationCountry, purpose: purpose,
                                   lanes: lanes, kinds: kinds, traffic: traffic, containers: containers, destinations: destinations, containerKey: key,
                                   fromUs: from, toUs: to, text: text)
        policy.n42 = N42Files(rawValue: try root.oneOf("n42", N42Files.allCases.map(\.rawValue), default: "occupancy"))!
        return policy
    }
}

func hexBytes(_ s: String) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    var i = 0
    while i < u.count {
        guard let b = UInt8(String(decoding: u[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(b)
        i += 2
    }
    return out
}

func hexString(_ b: some Sequence<UInt8>) -> String { b.map { String(format: "%02x", $0) }.joined() }

// MARK: the terminal's manifest

/// Where each container goes, from the terminal's manifest feed (CSV: container, destination
/// port, destination country, vessel, voyage), joined on the container number.
public struct CargoManifest: Sendable {
    public struct Entry: Sendable, Equatable {
        public var container: String, port: String, country: String, vessel: String, voyage: String
    }
    public struct RowError: Error, CustomStringConvertible, Sendable {
        public var file: String, line: Int, message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    /// Parses the feed: a header line, then one row per container. Every malformed row is
    /// refused with its line; the good rows are kept.
    public static func parse(_ text: String, file: String) -> (entries: [Entry], errors: [RowError]) {
        var entries: [Entry] = [], errors: [RowError] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
            if i == 0 {
                let h = line.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                if h != ["container", "destination_port", "destination_country", "vessel", "voyage"] {
                    errors.append(RowError(file: file, line: 1, message: "the header must be container,destination_port,destination_country,vessel,voyage"))
                    return ([], errors)
                }
                continue
            }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 5 else { errors.append(RowError(file: file, line: i + 1, message: "\(f.count) fields (expected 5)")); continue }
            guard let n = ContainerNumber(ascii: Array(f[0].utf8)), n.hasValidCheckDigit else {
                errors.append(RowError(file: file, line: i + 1, message: "container '\(f[0])' is not an ISO 6346 number with its check digit")); continue
            }
            guard f[2].count == 2, f[2].allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                errors.append(RowError(file: file, line: i + 1, message: "destination country '\(f[2])' is not a two-letter ISO 3166 code")); continue
            }
            guard !f[1].isEmpty else { errors.append(RowError(file: file, line: i + 1, message: "no destination port")); continue }
            entries.append(Entry(container: f[0], port: f[1], country: f[2], vessel: f[3], voyage: f[4]))
        }
        return (entries, errors)
    }
}
