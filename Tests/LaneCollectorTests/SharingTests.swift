// Proves sharing under policy (docs/SHARING.md) on a month of traffic of two lanes (with a cargo
// manifest, NORM loads, a few threats and faults): a package whose policy removes container
// numbers holds none anywhere; the keyed hash is stable for one recipient and differs between
// two; a destination filter leaves no cargo bound elsewhere; the signature verifies and one
// flipped byte (or an added file) fails it; the ledger lists every package; without a policy
// nothing is shared; policies and manifests are refused with file, line and key.

import Crypto
import Foundation
import LaneCollector
import LaneCore
import LaneTestSupport
import LaneTrace
import Testing

/// ISO 6346 check digit.
func withCheckDigit(_ ten: String) -> String {
    var sum = 0, weight = 1
    for (i, ch) in ten.enumerated() {
        var v: Int
        if i < 4 {
            v = Int(ch.asciiValue! - 65) + 10
            v += (v - 1) / 10
        } else { v = Int(ch.asciiValue! - 48) }
        sum += v * weight
        weight *= 2
    }
    return ten + String((sum % 11) % 10)
}

/// A month (30 days) of two lanes: 12 trucks a day each, one container each (destinations NL,
/// US, CN in turn), NORM every 7th, a Cs-137 alarm every 50th, a fault a week; a sample batch per
/// occupancy. Returns the store, the containers by destination, and the month's start.
func monthOfTraffic(_ engine: String) throws -> (Database, [String: [String]], Int64) {
    let db = try openStore(engine)
    let c = Collector(database: db, clientID: "test") { _ in }
    let start: Int64 = 1_793_491_200_000_000  // 2026-11-01T00:00:00Z
    var byCountry: [String: [String]] = [:]
    var manifest = "container,destination_port,destination_country,vessel,voyage\n"
    for (li, lane) in ["PORT/L1", "PORT/L2"].enumerated() {
        var seq: UInt64 = 0
        var enc = RecordEncoder()
        func send(_ r: Record, mono: Int64, wall: Int64) {
            seq += 1
            var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
            let n = out.withUnsafeMutableBufferPointer { enc.encode(r, header: FrameHeader(epoch: UInt64(0xE0 + li), sequence: seq, monotonicUs: mono, wallUs: wall), into: $0.baseAddress!, capacity: $0.count) }!
            c.handle(topic: "rpm/\(lane)/records/\(r.kind.name)", payload: Array(out.prefix(n)))
        }
        for k in 0..<(30 * 12) {
            let wall = start + Int64(k) * 7_200_000_000 + Int64(li) * 1_000_000
            let mono = Int64(k + 1) * 7_200_000_000
            var b = SampleBatch(panels: 4, nominalIntervalUs: 100_000)
            for j in 0..<16 {
                var s = LaneSample(tUs: mono - 1_500_000 + Int64(j) * 100_000, intervalUs: 100_000)
                for p in 0..<4 { s.gamma[p] = 170 + UInt32(j); s.gammaLow[p] = 90; s.neutron[p] = UInt32(j % 2) }
                _ = b.append(s)
            }
            send(.samples(b), mono: mono - 1_500_000, wall: wall - 1_000_000)
            var d = Decision()
            d.occupancy = UInt32(k + 1)
            d.startUs = mono - 1_400_000
            d.endUs = mono
            d.speedMmPerS = 2_200
            d.gammaAlarm = k % 50 == 3
            d.normSuspect = k % 7 == 2
            d.gammaMaxSigmaQ8 = d.gammaAlarm ? 20 * 256 : 256
            let country = ["NL", "US", "CN"][k % 3]
            let number = withCheckDigit("\(li == 0 ? "MSCU" : "TGHU")\(String(format: "%06d", k))")
            d.setContainer(ContainerNumber(ascii: Array(number.utf8)))
            byCountry[country, default: []].append(number)
            manifest += "\(number),\(country == "NL" ? "Rotterdam" : country == "US" ? "Newark" : "Ningbo"),\(country),MSC ANNA,V\(k % 9)\n"
            if d.gammaAlarm { send(.alarm(AlarmRecord(occupancy: d.occupancy, kind: 0, tUs: mono, sigmaQ8: d.gammaMaxSigmaQ8)), mono: mono, wall: wall) }
            send(.occupancy(d), mono: mono, wall: wall)
            if k % 84 == 5 { send(.fault(FaultRecord(bits: Faults.panelSilent.bits, changed: Faults.panelSilent.bits, panel: 2)), mono: mono + 1, wall: wall + 1) }
        }
    }
    let (entries, errors) = CargoManifest.parse(manifest, file: "manifest.csv")
    #expect(errors.isEmpty, "\(errors)")
    _ = try db.importManifest(entries)
    return (db, byCountry, start)
}

func policyFile(_ dir: String, _ name: String, _ body: String) throws -> String {
    let path = dir + "/" + name
    try body.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Every file of a package, as text.
func packageText(_ dir: String) -> String {
    let files = (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String]) ?? []
    return files.compactMap { try? String(contentsOfFile: dir + "/" + $0, encoding: .utf8) }.joined(separator: "\n")
}

/// Every run of four capital letters and six digits in a package's files (anything that could be
/// a container number, check digit or not): its first ten characters.
func containerLike(_ dir: String) -> Set<String> {
    var out: Set<String> = []
    let u = Array(packageText(dir).utf8)
    var i = 0
    while i + 10 <= u.count {
        var ok = true
        for j in 0..<10 where !(j < 4 ? (u[i + j] >= 65 && u[i + j] <= 90) : (u[i + j] >= 48 && u[i + j] <= 57)) { ok = false; break }
        if ok { out.insert(String(decoding: u[i..<(i + 10)], as: UTF8.self)); i += 10 } else { i += 1 }
    }
    return out
}

@Suite struct SharingTests {
    let base = """
        recipient: NL Customs RPM program
        recipientCountry: NL
        stationCountry: US
        purpose: Setting the lanes' alarm thresholds together, per the 2026 MoU, article 4
        lanes: ["*"]
        kinds: [decisions, alarms, samples, faults, heartbeats, adjudications]
        traffic: all
        from: 2026-11-01
        to: 2026-12-01

        """

    @Test("a month of two lanes under policies: no container number anywhere when removed, keyed hashes stable per recipient, destination filters, signature, ledger", arguments: engines)
    func packages(engine: String) throws {
        let (db, byCountry, _) = try monthOfTraffic(engine)
        let dir = NSTemporaryDirectory() + "share-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try StationSigningKey.create(path: dir + "/station.key")
        let key = try StationSigningKey.load(path: dir + "/station.key")
        let pub = try StationSigningKey.publicKey(path: dir + "/station.key.pub")
        let all = byCountry.values.flatMap { $0 }
        let from = try #require(ISO8601DateFormatter().date(from: "2026-11-01T00:00:00Z")).timeIntervalSince1970 * 1e6
        let to = from + 30 * 86_400e6

        // 1. Containers removed: none anywhere (CSV, N42 XML and its attributes, manifest).
        let removed = try SharingPolicy.load(path: try policyFile(dir, "removed.yaml", base + "containers: remove\n"))
        let p1 = try SharePackage.write(db: db, policy: removed, fromUs: Int64(from), toUs: Int64(to), out: dir + "/p1", station: "PORT", signingKey: key)
        #expect(p1.occupancies == 720 && p1.files.count > 700, "every occupancy of both lanes, an N42 file each: \(p1.occupancies), \(p1.files.count) files")
        let text1 = packageText(dir + "/p1")
        #expect(text1.contains("<RadInstrumentData") && text1.contains("gamma_alarm"))
        let found1 = containerLike(dir + "/p1")
        let leaked = all.filter { found1.contains(String($0.prefix(10))) }
        #expect(leaked.isEmpty, "container numbers in a package that removes them: \(leaked.prefix(5))")

        // 2. Hashed: stable for one recipient, different between two, never the number itself.
        try "11".padding(toLength: 64, withPad: "ab", startingAt: 0).write(toFile: dir + "/nl.key", atomically: true, encoding: .utf8)
        try "22".padding(toLength: 64, withPad: "cd", startingAt: 0).write(toFile: dir + "/de.key", atomically: true, encoding: .utf8)
        let hashedNL = try SharingPolicy.load(path: try policyFile(dir, "nl.yaml", base.replacingOccurrences(of: "traffic: all", with: "traffic: alarms")
            .replacingOccurrences(of: "kinds: [decisions, alarms, samples, faults, heartbeats, adjudications]", with: "kinds: [decisions]") + "containers: hash\ncontainerKeyFile: nl.key\n"))
        let hashedDE = try SharingPolicy.load(path: try policyFile(dir, "de.yaml", try String(contentsOfFile: dir + "/nl.yaml", encoding: .utf8)
            .replacingOccurrences(of: "NL Customs", with: "DE Customs").replacingOccurrences(of: "nl.key", with: "de.key")))
        _ = try SharePackage.write(db: db, policy: hashedNL, fromUs: Int64(from), toUs: Int64(to), out: dir + "/p2", station: "PORT", signingKey: key)
        _ = try SharePackage.write(db: db, policy: hashedNL, fromUs: Int64(from), toUs: Int64(to), out: dir + "/p3", station: "PORT", signingKey: key)
        _ = try SharePackage.write(db: db, policy: hashedDE, fromUs: Int64(from), toUs: Int64(to), out: dir + "/p4", station: "PORT", signingKey: key)
        func column(_ pkg: String, _ name: String) throws -> [String] {
            let lines = try String(contentsOfFile: dir + "/\(pkg)/decisions.csv", encoding: .utf8).split(separator: "\n").map(String.init)
            let i = try #require(lines.first?.split(separator: ",").firstIndex(of: Substring(name)))
            return lines.dropFirst().map { String($0.split(separator: ",", omittingEmptySubsequences: false)[i]) }
        }
        let nl1 = try column("p2", "containers"), nl2 = try column("p3", "containers"), de = try column("p4", "containers")
        #expect(!nl1.isEmpty && nl1.allSatisfy { $0.hasPrefix("H-") }, "\(nl1.prefix(3))")
        #expect(nl1 == nl2, "the same recipient gets the same hashes")
        #expect(zip(nl1, de).allSatisfy { $0 != $1 }, "two recipients never share a hash")
        let found2 = containerLike(dir + "/p2")
        #expect(all.allSatisfy { !found2.contains(String($0.prefix(10))) })
        // Alarms and anomalies only: the alarms, NORM suspects and faulted ones, not the clean trucks.
        #expect(nl1.count < 720 / 2 && nl1.count > 720 / 7, "\(nl1.count) anomalies")

        // 3. Destinations: only cargo bound for the recipient; or everything but third countries.
        let onlyNL = try SharingPolicy.load(path: try policyFile(dir, "dest.yaml", base + "containers: keep\ndestinations: recipient\n"))
        let p5 = try SharePackage.write(db: db, policy: onlyNL, fromUs: Int64(from), toUs: Int64(to), out: dir + "/p5", station: "PORT", signingKey: key)
        let found5 = containerLike(dir + "/p5")
        #expect(p5.occupancies == byCountry["NL"]!.count && p5.excludedByDestination == 720 - byCountry["NL"]!.count)
        #expect(byCountry["NL"]!.allSatisfy { found5.contains(String($0.prefix(10))) } && (byCountry["US"]! + byCountry["CN"]!).allSatisfy { !found5.contains(String($0.prefix(10))) })
        let noThird = try SharingPolicy.load(path: try policyFile(dir, "third.yaml", base + "containers: keep\ndestinations: exceptThirdCountries\n"))
        _ = try SharePackage.write(db: db, policy: noThird, fromUs: Int64(from), toUs: Int64(to), out: dir + "/p6", station: "PORT", signingKey: key)
        let found6 = containerLike(dir + "/p6")
        #expect(byCountry["CN"]!.allSatisfy { !found6.contains(String($0.prefix(10))) }, "no container bound for a third country")
        #expect((byCountry["NL"]! + byCountry["US"]!).allSatisfy { found6.contains(String($0.prefix(10))) })

        // 4. Signature and completeness.
        #expect(try SharePackage.verify(dir + "/p5", publicKey: pub).files == p5.files.count)
        let victim = dir + "/p5/decisions.csv"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: victim)))
        bytes[40] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: victim))
        #expect(throws: ShareError.self) { try SharePackage.verify(dir + "/p5", publicKey: pub) }
        try "extra".write(toFile: dir + "/p6/extra.csv", atomically: true, encoding: .utf8)
        #expect((try? SharePackage.verify(dir + "/p6", publicKey: pub)) == nil, "a file the manifest does not list fails verification")
        var manifest = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/p2/MANIFEST.json")))
        manifest[10] ^= 0x20
        try Data(manifest).write(to: URL(fileURLWithPath: dir + "/p2/MANIFEST.json"))
        #expect((try? SharePackage.verify(dir + "/p2", publicKey: pub)) == nil, "an altered manifest fails the signature")
        let other = Curve25519.Signing.PrivateKey().publicKey
        #expect((try? SharePackage.verify(dir + "/p3", publicKey: other)) == nil, "another station's key does not verify it")

        // 5. The ledger lists every package, with recipient and purpose.
        let ledger = try db.ledger()
        #expect(ledger.count == 6 && ledger.filter { $0.contains("DE Customs") }.count == 1, "\(ledger)")
        #expect(ledger.allSatisfy { $0.contains("\"direction\":\"sent\"") && $0.contains("2026 MoU") })

        // 6. Without a policy, nothing.
        #expect(throws: ShareError.self) {
            try SharePackage.write(db: db, policy: .nothing, fromUs: Int64(from), toUs: Int64(to), out: dir + "/p7", station: "PORT", signingKey: key)
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/p7"))
        // A period beyond the policy's is refused.
        #expect(throws: ShareError.self) {
            try SharePackage.write(db: db, policy: removed, fromUs: Int64(from), toUs: Int64(to) + 86_400_000_000, out: dir + "/p8", station: "PORT", signingKey: key)
        }
    }

    @Test("n42: day writes one N42 file per lane and day with every shared occupancy of it; it validates, and SpecUtils reads from it what it reads from the occupancies' own files")
    func n42PerDay() throws {
        let (db, _, start) = try monthOfTraffic("sqlite")
        let dir = NSTemporaryDirectory() + "share-day-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try StationSigningKey.create(path: dir + "/station.key")
        let key = try StationSigningKey.load(path: dir + "/station.key")
        let policy = base.replacingOccurrences(of: "lanes: [\"*\"]", with: "lanes: [PORT/L1]").replacingOccurrences(of: "traffic: all", with: "traffic: alarms")
            .replacingOccurrences(of: "kinds: [decisions, alarms, samples, faults, heartbeats, adjudications]", with: "kinds: [decisions, samples]") + "containers: remove\n"
        let perDay = try SharingPolicy.load(path: try policyFile(dir, "day.yaml", policy + "n42: day\n"))
        let perOccupancy = try SharingPolicy.load(path: try policyFile(dir, "occ.yaml", policy))
        let days: Int64 = 5
        let a = try SharePackage.write(db: db, policy: perDay, fromUs: start, toUs: start + days * 86_400_000_000, out: dir + "/day", station: "PORT", signingKey: key)
        let b = try SharePackage.write(db: db, policy: perOccupancy, fromUs: start, toUs: start + days * 86_400_000_000, out: dir + "/occ", station: "PORT", signingKey: key)
        #expect(a.occupancies == b.occupancies && a.occupancies > 5)
        let dayFiles = a.files.map(\.path).filter { $0.hasSuffix(".n42") }
        let occFiles = b.files.map(\.path).filter { $0.hasSuffix(".n42") }
        #expect(dayFiles == (0..<days).map { "n42/PORT_L1/2026-11-0\($0 + 1).n42" }, "\(dayFiles)")
        #expect(occFiles.count == a.occupancies)
        var dayGamma = 0.0, dayNeutron = 0.0, dayMeasurements = 0, dayResults = 0
        for f in dayFiles {
            let problems = try schemaProblems(dir + "/day/" + f)
            #expect(problems == nil, "\(f) validates against n42.xsd: \(problems ?? "")")
            let r = try specUtilsRead(dir + "/day/" + f)
            dayGamma += r["gammaCountSum"] as! Double
            dayNeutron += r["neutronCountsSum"] as! Double
            dayMeasurements += (r["measurements"] as! [Any]).count
            dayResults += (r["results"] as! [Any]).count
            #expect((r["warnings"] as! [Any]).isEmpty, "\(f): \(r["warnings"]!)")
        }
        var occGamma = 0.0, occNeutron = 0.0, occMeasurements = 0, occResults = 0
        for f in occFiles {
            let r = try specUtilsRead(dir + "/occ/" + f)
            occGamma += r["gammaCountSum"] as! Double
            occNeutron += r["neutronCountsSum"] as! Double
            occMeasurements += (r["measurements"] as! [Any]).count
            occResults += (r["results"] as! [Any]).count
        }
        #expect(dayGamma == occGamma && dayNeutron == occNeutron && dayMeasurements == occMeasurements, "\(dayGamma) \(occGamma) \(dayMeasurements) \(occMeasurements)")
        #expect(dayResults == occResults && occResults > 0, "every alarm as SpecUtils reads it: \(dayResults) against \(occResults)")
        #expect(!packageText(dir + "/day").contains("MSCU"))
    }

    @Test("adjudications are appended, never rewritten, and travel with the shared occupancies")
    func adjudications() throws {
        let (db, _, _) = try monthOfTraffic("sqlite")
        try db.adjudicate(lane: "PORT/L1", number: 4, code: 4, state: "completed", isotopes: "K-40 Th-232", vehicle: "DP-4471", notes: "tiles", by: "inspector1")
        try db.adjudicate(lane: "PORT/L1", number: 4, code: 1, state: "completed", isotopes: "Cs-137", vehicle: "DP-4471", notes: "second look", by: "inspector2")
        #expect(throws: ShareError.self) { try db.adjudicate(lane: "PORT/L1", number: 4, code: 12, state: "completed", isotopes: "", vehicle: "", notes: "", by: "x") }
        #expect(throws: ShareError.self) { try db.adjudicate(lane: "PORT/L1", number: 9_999, code: 4, state: "completed", isotopes: "", vehicle: "", notes: "", by: "x") }
        let csv = try db.adjudicationsCSV(lanes: ["PORT/L1"], fromUs: 0, toUs: Int64.max, shared: Set(try db.occupancies(lane: "PORT/L1", sinceWallUs: nil, untilWallUs: nil, alarm: nil).compactMap { line in
            guard let j = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let d = j["decision"] as? [String: Any] else { return nil }
            return "PORT/L1 \(0xE0) \(d["occupancy"] as! Int) \(d["startUs"] as! Int)"
        }))
        let rows = csv.split(separator: "\n").dropFirst()
        #expect(rows.count == 2 && rows.first!.contains(",4,innocent,") && rows.last!.contains(",1,real,"), "\(csv)")
    }

    @Test("policies and manifests are refused with the file, the line and the key", arguments: [
        ("recipient: X\n", "purpose: required key is missing"),
        ("recipient: NL\npurpose: short\n", "purpose: the designated purpose"),
        ("recipient: NL\npurpose: a purpose long enough\nlanes: [PORT]\n", "lanes: 'PORT' is not a lane"),
        ("recipient: NL\npurpose: a purpose long enough\nlanes: ['*']\nkinds: [videos]\n", "kinds: 'videos' is not one of"),
        ("recipient: NL\npurpose: a purpose long enough\nlanes: ['*']\nkinds: [decisions]\ntraffic: some\n", "traffic: 'some' is not one of: all, alarms"),
        ("recipient: NL\npurpose: a purpose long enough\nlanes: ['*']\nkinds: [decisions]\ntraffic: all\ncontainers: hash\n", "containerKeyFile: required key is missing"),
        ("recipient: NL\npurpose: a purpose long enough\nlanes: ['*']\nkinds: [decisions]\ntraffic: all\ncontainers: keep\ndestinations: recipient\nrecipientCountry: Netherlands\nfrom: 2026-11-01\nto: 2026-12-01\n", "recipientCountry: expected an ISO 3166"),
        ("recipient: NL\npurpose: a purpose long enough\nlanes: ['*']\nkinds: [decisions]\ntraffic: all\ncontainers: keep\nfrom: 2026-12-01\nto: 2026-11-01\n", "to: must be after from"),
        ("recipient: NL\npurpose: a purpose long enough\nlanes: ['*']\nkinds: [decisions]\ntraffic: all\ncontainers: keep\nfrom: yesterday\nto: 2026-11-01\n", "from: expected a date"),
        ("recipient: NL\nrecipent: x\n", "recipent: unknown key (did you mean 'recipient'?)"),
    ])
    func badPolicies(text: String, why: String) {
        do {
            _ = try SharingPolicy.parse(text, file: "nl.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(why) && "\(error)".hasPrefix("nl.yaml:"), "\(error)")
        }
    }

    @Test("a manifest's malformed rows are refused with their line; the good ones are kept")
    func manifestRows() {
        let text = """
            container,destination_port,destination_country,vessel,voyage
            \(withCheckDigit("MSCU123456")),Rotterdam,NL,MSC ANNA,V1
            MSCU1234560,Rotterdam,NL,MSC ANNA,V1
            \(withCheckDigit("TGHU000001")),Ningbo,China,MSC ANNA,V1
            \(withCheckDigit("TGHU000002")),Ningbo,CN
            \(withCheckDigit("TGHU000003")),,CN,MSC ANNA,V2
            """
        let (entries, errors) = CargoManifest.parse(text, file: "m.csv")
        #expect(entries.count == 1)
        #expect(errors.map(\.line) == [3, 4, 5, 6], "\(errors)")
        #expect(errors[0].description.hasPrefix("m.csv:3: container 'MSCU1234560' is not an ISO 6346 number"))
        #expect(errors[1].message.contains("'China' is not a two-letter"))
        #expect(errors[2].message.contains("3 fields (expected 5)"))
        let badHeader = CargoManifest.parse("number,port\nX,Y\n", file: "m.csv")
        #expect(badHeader.entries.isEmpty && badHeader.errors.first?.line == 1)
    }
}
