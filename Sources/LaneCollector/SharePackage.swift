// A sharing package (docs/SHARING.md): what a policy lets leave the station for one recipient
// over one period, in the formats analysts already read (ANSI N42.42 per occupancy, CSV for
// decisions, alarms, faults, heartbeats and raw samples), with a manifest of every file and its
// SHA-256, the policy and purpose it was made under, signed by the station (Ed25519). Every
// package is entered in the sharing ledger.

import Crypto
import Foundation
import LaneCore
import LaneTrace

public struct ShareError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// The station's signing key (Ed25519): a file of 64 hex digits (mode 600), its public key beside.
public enum StationSigningKey {
    public static func create(path: String) throws -> String {
        guard !FileManager.default.fileExists(atPath: path) else { throw ShareError("\(path) exists: a signing key is never overwritten") }
        let key = Curve25519.Signing.PrivateKey()
        guard FileManager.default.createFile(atPath: path, contents: Data((hexString(key.rawRepresentation) + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ShareError("\(path): cannot write the signing key")
        }
        let pub = hexString(key.publicKey.rawRepresentation)
        try (pub + "\n").write(toFile: path + ".pub", atomically: true, encoding: .utf8)
        return pub
    }

    public static func load(path: String) throws -> Curve25519.Signing.PrivateKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let b = hexBytes(text.trimmingCharacters(in: .whitespacesAndNewlines)), b.count == 32 else {
            throw ShareError("\(path): expected the station's signing key, 64 hex digits ('lane-collector signing-key new' makes one)")
        }
        var st = stat()
        if stat(path, &st) == 0 && st.st_mode & 0o077 != 0 { throw ShareError("\(path): others may read the signing key (chmod 600)") }
        return try Curve25519.Signing.PrivateKey(rawRepresentation: b)
    }

    public static func publicKey(path: String) throws -> Curve25519.Signing.PublicKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let b = hexBytes(text.trimmingCharacters(in: .whitespacesAndNewlines)), b.count == 32 else {
            throw ShareError("\(path): expected a station's public key, 64 hex digits")
        }
        return try Curve25519.Signing.PublicKey(rawRepresentation: b)
    }
}

public struct SharePackage {
    public struct Summary: Sendable {
        public var files: [(path: String, bytes: Int, sha256: String)] = []
        public var occupancies = 0
        public var excludedByDestination = 0
        public var manifestSha256 = ""
    }

    static func sha256(_ d: Data) -> String { hexString(SHA256.hash(data: d)) }

    static func iso(_ us: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(us) / 1e6))
    }

    static func csv(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }

    /// A container number as the policy shares it: as read, a keyed hash, or nothing.
    static func shown(_ n: String, _ p: SharingPolicy) -> String? {
        switch p.containers {
        case .keep: return n
        case .remove: return nil
        case .hash:
            let mac = HMAC<SHA256>.authenticationCode(for: Array(n.utf8), using: SymmetricKey(data: p.containerKey ?? []))
            return "H-" + hexString(mac).prefix(20)
        }
    }

    /// Writes the package for `policy` over [fromUs, toUs) (wall clock) into `out` (made; must
    /// not exist), signs it and enters it in the ledger.
    public static func write(db: Database, policy p: SharingPolicy, fromUs: Int64, toUs: Int64, out: String, station: String,
                             signingKey: Curve25519.Signing.PrivateKey, nowUs: Int64 = wallClockMicros()) throws -> Summary {
        guard !p.recipient.isEmpty else { throw ShareError("no sharing policy: nothing is shared (docs/SHARING.md)") }
        guard fromUs >= p.fromUs && toUs <= p.toUs && fromUs < toUs else {
            throw ShareError("\(p.file): the period \(iso(fromUs)) to \(iso(toUs)) is not within the policy's \(iso(p.fromUs)) to \(iso(p.toUs))")
        }
        guard !FileManager.default.fileExists(atPath: out) else { throw ShareError("\(out) exists: a package is written into a new directory") }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var summary = Summary()
        var written: [(String, Data)] = []
        func put(_ rel: String, _ text: String) throws {
            let d = Data(text.utf8)
            let path = out + "/" + rel
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try d.write(to: URL(fileURLWithPath: path))
            written.append((rel, d))
        }
        let manifest = try db.cargoManifest()
        let lanes = try db.lanes().map(\.lane).filter(p.allows(lane:))
        var decisionsCSV = "lane,epoch,sequence,time,occupancy,start_us,end_us,speed_mps,gamma_alarm,neutron_alarm,norm_suspect,gamma_sigma,containers,ocr_suspect,destinations\n"
        var alarmsCSV = "lane,epoch,sequence,time,occupancy,kind,sigma\n"
        var faultsCSV = "lane,epoch,sequence,time,panel,faults,changed\n"
        var beatsCSV = "lane,epoch,sequence,time,software,uptime_s,ticks,missed_ticks,settings_hash,norm_loads_learned,norm_share_p90,norm_discrimination,norm_low_share_min\n"
        var sharedOccupancies: Set<String> = []
        // With `n42: day`, each lane's days' files, written after the lane (in time order within each).
        var days: [String: (lane: String, panels: Int, occupancies: [N42Export.Occupancy])] = [:]
        func closeDays() throws {
            for (path, d) in days {
                try put(path, N42Export.dayDocument(lane: d.lane, occupancies: d.occupancies.sorted { $0.wallUs < $1.wallUs }, panels: d.panels))
            }
            days.removeAll()
        }
        for lane in Set(lanes).sorted() {
            for (epoch, seq, wall, frame) in try db.recordFrames(lane: lane, kinds: [.occupancy, .alarm, .fault, .heartbeat], fromWallUs: fromUs, toWallUs: toUs) {
                guard let (_, rec) = Database.decode(frame) else { continue }
                let head = "\(csv(lane)),\(epochHex(epoch)),\(seq),\(iso(wall))"
                switch rec {
                case let .occupancy(d):
                    let anomaly = d.gammaAlarm || d.neutronAlarm || d.normSuspect || !d.faults.isEmpty || d.notScreened
                    if p.traffic == .alarms && !anomaly { continue }
                    let numbers = (0..<d.ocr.count).map { d.ocr[$0].number.text }
                    let countries = numbers.map { manifest[$0]?.country }
                    if p.destinations != .all {
                        let ok: Bool
                        switch p.destinations {
                        case .recipient: ok = !numbers.isEmpty && countries.allSatisfy { $0 == p.recipientCountry }
                        default: ok = countries.allSatisfy { $0 != nil && ($0 == p.recipientCountry || $0 == p.stationCountry) }
                        }
                        if !ok { summary.excludedByDestination += 1; continue }
                    }
                    let shownNumbers = numbers.compactMap { shown($0, p) }
                    sharedOccupancies.insert("\(lane) \(epoch) \(d.occupancy) \(d.startUs)")
                    summary.occupancies += 1
                    if p.kinds.contains(.decisions) {
                        decisionsCSV += "\(head),\(d.occupancy),\(d.startUs),\(d.endUs),\(d.speedMmPerS.map { String(format: "%.2f", Double($0) / 1000) } ?? ""),"
                            + "\(d.gammaAlarm),\(d.neutronAlarm),\(d.normSuspect),\(decimal2(Q8.hundredths(d.gammaMaxSigmaQ8))),"
                            + "\(csv(shownNumbers.joined(separator: " "))),\(d.ocr.suspect && p.containers != .remove),"
                            + "\(p.containers == .remove ? "" : csv(countries.map { $0 ?? "?" }.joined(separator: " ")))\n"
                    }
                    if p.kinds.contains(.samples) {
                        if let (dd, w, samples, panels, windows) = try db.occupancyWithWindows(lane: lane, epoch: epoch, sequence: seq) {
                            let o = N42Export.Occupancy(decision: dd, wallUs: w, samples: samples, containers: shownNumbers.joined(separator: " "), windows: windows)
                            let dir = "n42/\(lane.replacingOccurrences(of: "/", with: "_"))/"
                            if p.n42 == .day {
                                let path = dir + String(iso(w).prefix(10)) + ".n42"
                                days[path, default: (lane, max(1, panels), [])].occupancies.append(o)
                            } else {
                                try put(dir + "\(epochHex(epoch))-\(String(format: "%06llu", seq)).n42",
                                        N42Export.dayDocument(lane: lane, occupancies: [o], panels: max(1, panels)))
                            }
                        }
                    }
                case let .alarm(a) where p.kinds.contains(.alarms):
                    alarmsCSV += "\(head),\(a.occupancy),\(a.kind == 0 ? "gamma" : "neutron"),\(decimal2(Q8.hundredths(a.sigmaQ8)))\n"
                case let .fault(f) where p.kinds.contains(.faults):
                    var names: [String] = []
                    for bit in 0..<Faults.bitCount where f.bits & (1 << UInt32(bit)) != 0 { names.append(Faults.name(bit: bit).description) }
                    faultsCSV += "\(head),\(f.panel == 255 ? "lane" : String(f.panel)),\(csv(names.joined(separator: " "))),\(f.changed)\n"
                case let .heartbeat(h) where p.kinds.contains(.heartbeats):
                    beatsCSV += "\(head),\(RecordJSON.plain(h.softwareVersion)),\(h.uptimeS),\(h.ticks),\(h.missedTicks),\(String(h.settingsHash, radix: 16))"
                        + ",\(h.normLearned),\(h.normShareQ16 == 0 ? "" : decimal2(Q16.hundredths(Int64(h.normShareQ16)))),\(h.normRule & 1 != 0),\(decimal2(Q16.hundredths(Int64(h.normLowShareMinQ16))))\n"
                default: break
                }
            }
            try closeDays()
            // Raw samples of the whole period, for setting thresholds (all traffic only), with
            // what a replay needs besides: each sample's absent panels, the beam edges, the
            // lane's starts (docs/SHARING.md).
            if p.kinds.contains(.samples) && p.traffic == .all {
                var text = ""
                var beams = "time_us,beam,blocked\n"
                var starts = "time,monotonic_us,panels,interval_us,beam_spacing_mm,pillar_b_mask,background_restored\n"
                var rows = 0, edges = 0, started = 0
                for (_, _, wall, frame) in try db.recordFrames(lane: lane, kinds: [.samples, .beams, .start], fromWallUs: fromUs, toWallUs: toUs) {
                    guard let (h, rec) = Database.decode(frame) else { continue }
                    switch rec {
                    case let .samples(b):
                        if text.isEmpty {
                            text = "time_us,interval_us" + (0..<b.panels).map { ",gamma\($0 + 1),gamma_low\($0 + 1),neutron\($0 + 1)" }.joined()
                                + ",absent_mask,forgotten_mask,maintenance\n"
                        }
                        for k in 0..<b.count {
                            let smp = b.sample(k), f = b.flags(sample: k)
                            text += "\(smp.tUs),\(smp.intervalUs)"
                            for pn in 0..<b.panels { text += ",\(smp.gamma[pn]),\(smp.gammaLow[pn]),\(smp.neutron[pn])" }
                            text += ",\(f & 0xFF),\((f >> SampleBatch.forgetShift) & 0xFF),\(f & SampleBatch.maintenanceFlag != 0 ? 1 : 0)\n"
                            rows += 1
                        }
                    case let .beams(bm):
                        for i in 0..<bm.count { beams += "\(bm[i].tUs),\(bm[i].beam),\(bm[i].blocked ? 1 : 0)\n"; edges += 1 }
                    case let .start(st):
                        starts += "\(iso(wall)),\(h.monotonicUs),\(st.panels),\(st.sampleIntervalUs),\(st.beamSpacingMm),\(st.pillarBMask),\(st.background != nil ? 1 : 0)\n"
                        started += 1
                    default: break
                    }
                }
                let name = lane.replacingOccurrences(of: "/", with: "_")
                if rows > 0 { try put("samples/\(name).csv", text) }
                if edges > 0 { try put("samples/\(name).beams.csv", beams) }
                if started > 0 { try put("samples/\(name).starts.csv", starts) }
            }
        }
        if p.kinds.contains(.decisions) { try put("decisions.csv", decisionsCSV) }
        if p.kinds.contains(.alarms) { try put("alarms.csv", alarmsCSV) }
        if p.kinds.contains(.faults) { try put("faults.csv", faultsCSV) }
        if p.kinds.contains(.heartbeats) { try put("heartbeats.csv", beatsCSV) }
        if p.kinds.contains(.adjudications) {
            try put("adjudications.csv", try db.adjudicationsCSV(lanes: Set(lanes), fromUs: fromUs, toUs: toUs, shared: sharedOccupancies))
        }
        try put("POLICY.yaml", p.text)
        written.sort { $0.0 < $1.0 }
        summary.files = written.map { ($0.0, $0.1.count, sha256($0.1)) }
        // The manifest: what the package holds, under what, from whom; then its signature.
        var m = "{\"format\":\"lane-share\",\"version\":1,\"station\":\(jsonString(station)),\"recipient\":\(jsonString(p.recipient)),"
        m += "\"purpose\":\(jsonString(p.purpose)),\"from\":\"\(iso(fromUs))\",\"to\":\"\(iso(toUs))\",\"made\":\"\(iso(nowUs))\","
        m += "\"containers\":\"\(p.containers.rawValue)\",\"destinations\":\"\(p.destinations.rawValue)\",\"traffic\":\"\(p.traffic.rawValue)\","
        m += "\"policySha256\":\"\(sha256(Data(p.text.utf8)))\",\"occupancies\":\(summary.occupancies),\"files\":["
        m += summary.files.map { "{\"path\":\(jsonString($0.path)),\"bytes\":\($0.bytes),\"sha256\":\"\($0.sha256)\"}" }.joined(separator: ",") + "]}\n"
        let manifestData = Data(m.utf8)
        try manifestData.write(to: URL(fileURLWithPath: out + "/MANIFEST.json"))
        let signature = try signingKey.signature(for: manifestData)
        try (hexString(signature) + "\n").write(toFile: out + "/MANIFEST.sig", atomically: true, encoding: .utf8)
        try (hexString(signingKey.publicKey.rawRepresentation) + "\n").write(toFile: out + "/STATION.pub", atomically: true, encoding: .utf8)
        summary.manifestSha256 = sha256(manifestData)
        try db.ledgerAdd(id: summary.manifestSha256, madeUs: nowUs, direction: "sent", party: p.recipient, purpose: p.purpose,
                         policySha256: sha256(Data(p.text.utf8)), fromUs: fromUs, toUs: toUs, files: summary.files.count, path: out)
        return summary
    }

    /// Checks a package: the manifest's signature with the station's public key, every file's
    /// size and hash, and that nothing is there that the manifest does not list.
    public static func verify(_ dir: String, publicKey: Curve25519.Signing.PublicKey) throws -> (files: Int, manifestSha256: String) {
        guard let manifest = FileManager.default.contents(atPath: dir + "/MANIFEST.json") else { throw ShareError("\(dir): no MANIFEST.json") }
        guard let sigText = try? String(contentsOfFile: dir + "/MANIFEST.sig", encoding: .utf8),
              let sig = hexBytes(sigText.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw ShareError("\(dir): no readable MANIFEST.sig") }
        guard publicKey.isValidSignature(sig, for: manifest) else {
            throw ShareError("\(dir): the signature does not match MANIFEST.json: not made by this station, or altered")
        }
        guard let json = try JSONSerialization.jsonObject(with: manifest) as? [String: Any], let files = json["files"] as? [[String: Any]] else {
            throw ShareError("\(dir): MANIFEST.json is not a package manifest")
        }
        var listed: Set<String> = ["MANIFEST.json", "MANIFEST.sig", "STATION.pub"]
        for f in files {
            guard let path = f["path"] as? String, let hash = f["sha256"] as? String, let bytes = f["bytes"] as? Int, !path.contains("..") else {
                throw ShareError("\(dir): a malformed entry in MANIFEST.json")
            }
            listed.insert(path)
            guard let d = FileManager.default.contents(atPath: dir + "/" + path) else { throw ShareError("\(dir): \(path) is missing") }
            guard d.count == bytes, sha256(d) == hash else { throw ShareError("\(dir): \(path) was altered (its size or SHA-256 differs from the manifest)") }
        }
        let present = (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).filter { p in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir + "/" + p, isDirectory: &isDir) && !isDir.boolValue
        }
        if let extra = present.first(where: { !listed.contains($0) }) { throw ShareError("\(dir): \(extra) is not in the manifest") }
        return (files.count, sha256(manifest))
    }
}
