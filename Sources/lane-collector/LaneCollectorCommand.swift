// lane-collector: the receiving end at the central alarm station.

import ArgumentParser
import Crypto
import Foundation
import LaneCollector
import LaneCore
import LaneSeal
import LaneTrace

@main
struct LaneCollectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lane-collector",
        abstract: "Collect lane records from the MQTT broker into SQLite; list, show, export and decode them.",
        subcommands: [RunCollector.self, Occupancies.self, OCRReads.self, Lanes.self, LoadGen.self, Share.self, Verify.self, Ledger.self,
                      ManifestCommand.self, SigningKey.self, Adjudicate.self, AdjudicationReport.self, StudyCommand.self, Simulate.self, ExportCSV.self, ExportN42.self, Plot.self, Show.self, Decode.self, Keys.self])
}

func fail(_ m: String, code: Int32 = 2) -> ExitCode {
    FileHandle.standardError.write(Data("lane-collector: \(m)\n".utf8))
    return ExitCode(code)
}

/// Where the store is: an SQLite file (one station), or a PostgreSQL server (several collectors
/// and the analysts' tools at once).
struct StoreOptions: ParsableArguments {
    @Option(help: "The SQLite database file (ignored with --postgres).") var db: String = "lanes.sqlite"
    @Option(help: "A PostgreSQL store instead: a libpq connection string ('host=db1 dbname=lanes user=collector'; the password from PGPASSFILE).")
    var postgres: String?

    func open() throws -> Database {
        do {
            if let postgres { return try Database(postgres: postgres) }
            return try Database(path: db)
        } catch { throw fail("\(error)") }
    }
}

struct RunCollector: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Subscribe and store until stopped.")
    @Option(help: "The broker, host:port.") var broker: String = "127.0.0.1:1883"
    @OptionGroup var store: StoreOptions
    @Option(help: "Topic filter.") var topic: String = "rpm/+/+/records/#"
    @Option(help: "MQTT client id (default: lane-collector-<host>-<pid>, unique per instance: two collectors with one id disconnect each other).") var clientID: String?
    @Option(help: "Seconds between the MQTT keep-alives (the broker takes the collector for gone after 1.5 x; a shared group's share goes to the others then).") var keepalive: Int = 10
    @Option(help: "Share the lanes with the other collectors of this group (an MQTT shared subscription, $share/GROUP/...): each record goes to one of them. Needs a store they all use (--postgres).") var share: String?
    @Option(help: "Stop after this many seconds.") var duration: Double?
    @Option(help: "The lanes' sealing keys (docs/SECURITY.md; 'lane-collector keys add' makes them): every record must carry a valid seal. Without it, records are accepted unchecked (a warning says so).")
    var keys: String?
    @Option(help: "The collector's user name at the broker (its ACL: read the lanes' records, write their acknowledgements).") var username: String?
    @Option(help: "A file holding the broker password (one line, mode 600).") var passwordFile: String?
    @Option(help: "TLS: the broker's CA certificate (turns TLS on).") var caFile: String?
    @Option(help: "TLS: the collector's client certificate.") var certFile: String?
    @Option(help: "TLS: the collector's client key.") var keyFile: String?

    func run() throws {
        let parts = broker.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--broker must be host:port") }
        if share != nil && store.postgres == nil {
            throw ValidationError("--share needs --postgres: collectors that share the lanes must share one store, from which each computes the acknowledgements (with an SQLite file each, give each collector its own lanes with --topic instead)")
        }
        if let share, share.isEmpty || share.contains("/") || share.contains("+") || share.contains("#") {
            throw ValidationError("--share: a group name without '/', '+' or '#'")
        }
        let database = try store.open()
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        let clientID = self.clientID ?? "lane-collector-\(String(cString: host))-\(getpid())"
        let topic = share.map { "$share/\($0)/" + self.topic } ?? self.topic
        var laneKeys: [String: [LaneKey]]? = nil
        if let keys {
            do { laneKeys = try KeyFile.loadStation(keys) } catch { throw fail("\(error)") }
        }
        let c = Collector(database: database, clientID: clientID, keys: laneKeys) { FileHandle.standardError.write(Data("[lane-collector] \($0)\n".utf8)) }
        var cred = Collector.Credentials()
        cred.username = username
        if let passwordFile {
            guard let p = try? String(contentsOfFile: passwordFile, encoding: .utf8) else { throw fail("\(passwordFile): cannot read the password file") }
            cred.password = p.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        cred.caFile = caFile; cred.certFile = certFile; cred.keyFile = keyFile
        if caFile == nil { FileHandle.standardError.write(Data("[lane-collector] WARNING: no TLS (--ca-file): records\(username != nil ? " and the password" : "") travel in clear\n".utf8)) }
        FileHandle.standardError.write(Data("[lane-collector] client id \(clientID), \(share.map { "sharing the lanes in group \($0)" } ?? "subscribed to \(topic)"), store \(database.path)\n".utf8))
        guard (2...300).contains(keepalive) else { throw ValidationError("--keepalive must be 2...300 s") }
        // A persistent session (the broker queues the records while the collector is away) only
        // under a fixed --client-id and outside a shared group.
        try c.start(host: String(parts[0]), port: port, topic: topic, credentials: cred,
                    persistentSession: self.clientID != nil && share == nil, keepaliveS: keepalive)
        let end = duration.map { Date(timeIntervalSinceNow: $0) }
        // A parent may hand these signals over blocked (process spawners do): unblock them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        signal(SIGTERM) { _ in Collector.stopRequested = true }
        signal(SIGINT) { _ in Collector.stopRequested = true }
        while !Collector.stopRequested && (end.map { Date() < $0 } ?? true) { usleep(100_000) }
        c.stop()
        FileHandle.standardError.write(Data("[lane-collector] \(c.messages) messages, \(c.stored) records stored, \(c.duplicates) duplicates dropped, \(c.rejected) runs of bytes refused, \(c.forged) forged or altered, \(c.unsealed) unsealed, \(c.wrongKind) on the wrong topic, \(c.outOfWindow) out of window, \(c.badLane) with a bad lane name refused, \(c.acksPublished) acknowledgements published\n".utf8))
    }
}

extension Collector {
    nonisolated(unsafe) static var stopRequested = false
}

struct Occupancies: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List occupancy decisions as JSON Lines.")
    @OptionGroup var store: StoreOptions
    @Option(help: "Only this lane (site/lane).") var lane: String?
    @Option(help: "Only at or after this wall-clock time (Unix seconds).") var since: Double?
    @Option(help: "Only before this wall-clock time (Unix seconds).") var until: Double?
    @Option(help: "Only alarms: gamma, neutron, any, or norm (NORM suspected).") var alarm: String?

    func run() throws {
        if let alarm, !["gamma", "neutron", "any", "norm"].contains(alarm) { throw ValidationError("--alarm must be gamma, neutron, any or norm") }
        let d = try store.open()
        for line in try d.occupancies(lane: lane, sinceWallUs: since.map { Int64($0 * 1e6) }, untilWallUs: until.map { Int64($0 * 1e6) }, alarm: alarm) {
            print(line)
        }
    }
}

struct OCRReads: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ocr",
        abstract: "The gate OCR's reads that matched no occupancy (and, with --amendments, the late ones that amended a decision), as JSON Lines.")
    @OptionGroup var store: StoreOptions
    @Option(help: "Only this lane (site/lane).") var lane: String?
    @Flag(help: "Also the late reads that amended a decision.") var amendments = false
    func run() throws {
        for line in try store.open().ocrReads(lane: lane, amendments: amendments) { print(line) }
    }
}

/// The alarm station's load test's generator (scripts/loadtest.sh runs it; docs/PERFORMANCE.md).
struct LoadGen: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "loadgen",
        abstract: "Benchmark: publish the records of N simulated lanes through the broker and measure when the store acknowledges their alarms.")
    @Option(help: "The broker, host:port.") var broker: String = "127.0.0.1:1883"
    @Option(help: "Simulated lanes.") var lanes: Int = 100
    @Option(help: "Seconds of traffic.") var seconds: Double = 60
    @Option(help: "Seconds between trucks on each lane.") var truckEvery: Double = 30

    func run() throws {
        let parts = broker.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--broker must be host:port") }
        guard (1...100_000).contains(lanes) else { throw ValidationError("--lanes must be 1...100000") }
        var o = LoadGenerator.Options()
        o.host = String(parts[0]); o.port = port; o.lanes = lanes; o.seconds = seconds; o.truckEveryS = truckEvery
        let r = try LoadGenerator(options: o).run()
        print(String(format: "{\"lanes\":%d,\"seconds\":%.1f,\"records\":%d,\"recordsPerS\":%.0f,\"recordsAcknowledged\":%d,\"lastAckAfterS\":%.1f,\"alarms\":%d,\"alarmsStored\":%d,\"alarmLatencyMsP50\":%.0f,\"alarmLatencyMsP99\":%.0f,\"alarmLatencyMsMax\":%.0f}",
                     lanes, r.elapsedS, r.records, Double(r.records) / r.elapsedS, r.recordsAcknowledged, r.lastAckAfterS, r.alarms, r.alarmsStored,
                     r.percentile(50), r.percentile(99), r.alarmLatenciesMs.last ?? .nan))
    }
}

struct Lanes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Per lane and journal epoch: records, sequence checked through, gaps (asked for), records the lane reported lost (with the cause), duplicates.")
    @OptionGroup var store: StoreOptions
    func run() throws {
        for l in try store.open().lanes() {
            let gaps = l.gaps.map { "\"\($0.lowerBound)-\($0.upperBound)\"" }.joined(separator: ",")
            let lost = l.lost.map { "{\"records\":\"\($0.range.lowerBound)-\($0.range.upperBound)\",\"cause\":\"\($0.cause)\"}" }.joined(separator: ",")
            print("{\"lane\":\(jsonString(l.lane)),\"epoch\":\"\(epochHex(l.epoch))\",\"firstSeenUs\":\(l.firstSeenUs),\"records\":\(l.records),\"contiguousThrough\":\(l.contiguousThrough),\"highest\":\(l.highest),\"duplicatesDropped\":\(l.duplicates),\"gaps\":[\(gaps)],\"lost\":[\(lost)],\"droppedBeforeJournal\":\(l.droppedBeforeJournal)}")
        }
    }
}

struct ExportCSV: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export-csv", abstract: "Raw samples of a lane as CSV, for analysts.")
    @OptionGroup var store: StoreOptions
    @Option(help: "The lane (site/lane).") var lane: String
    @Option(help: "From this monotonic time, microseconds.") var fromUs: Int64 = Int64.min
    @Option(help: "To this monotonic time, microseconds.") var toUs: Int64 = Int64.max

    func run() throws {
        let d = try store.open()
        var header = false
        var out = Data()
        try d.frames(lane: lane, kinds: [.samples], fromUs: fromUs, toUs: toUs) { frame in
            for r in splitFrames(frame) {
                guard case let .success((_, .samples(b), _)) = r else { continue }
                if !header {
                    var h = "tUs,intervalUs"
                    for p in 0..<b.panels { h += ",gamma\(p),gammaLow\(p),neutron\(p)" }
                    out.append(contentsOf: (h + "\n").utf8)
                    header = true
                }
                for k in 0..<b.count {
                    let s = b.sample(k)
                    var line = "\(s.tUs),\(s.intervalUs)"
                    for p in 0..<b.panels { line += ",\(s.gamma[p]),\(s.gammaLow[p]),\(s.neutron[p])" }
                    out.append(contentsOf: (line + "\n").utf8)
                }
                if out.count > 1 << 20 { FileHandle.standardOutput.write(out); out.removeAll(keepingCapacity: true) }
            }
        }
        FileHandle.standardOutput.write(out)
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode a journal segment or a captured payload to JSON Lines.")
    @Argument(help: "The file (a .seg journal segment, or a message payload).") var file: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw fail("\(file): cannot read the file") }
        var bad = 0
        for (i, r) in splitFrames([UInt8](data)).enumerated() {
            switch r {
            case let .success((h, rec, _)): print(RecordJSON.line(h, rec))
            case let .failure(e):
                bad += 1
                FileHandle.standardError.write(Data("lane-collector: \(file): frame \(i + 1) refused: \(e.reason)\n".utf8))
            }
        }
        if bad > 0 { throw ExitCode(1) }
    }
}

/// Which occupancy: the database, the lane and the number (export-n42, plot, show).
struct OccupancyOptions: ParsableArguments {
    @OptionGroup var store: StoreOptions
    @Option(help: "The lane (site/lane).") var lane: String
    @Option(help: "The occupancy number.") var occupancy: UInt32

    func load() throws -> (decision: Decision, wallUs: Int64, samples: [LaneSample], panels: Int) {
        let d = try store.open()
        guard let (decision, wall, samples, panels) = try d.occupancy(lane: lane, number: occupancy) else {
            throw fail("\(lane): no occupancy \(occupancy) in \(d.path)")
        }
        return (decision, wall, samples, panels)
    }
}

struct ExportN42: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export-n42", abstract: "One occupancy as ANSI N42.42-2012 XML.")
    @OptionGroup var which: OccupancyOptions
    @Option(help: "Write here instead of standard output.") var out: String?

    func run() throws {
        let d = try which.store.open()
        guard let (decision, wall, samples, panels, windows) = try d.occupancyWithWindows(lane: which.lane, number: which.occupancy) else {
            throw fail("\(which.lane): no occupancy \(which.occupancy) in \(d.path)")
        }
        let text = N42Export.document(lane: which.lane, decision: decision, wallUs: wall, samples: samples, panels: max(panels, 1), windows: windows)
        if let out { try text.write(toFile: out, atomically: true, encoding: .utf8) } else { print(text, terminator: "") }
    }
}

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Draw an occupancy's count profile (SVG), for adjudicating an alarm.")
    @OptionGroup var which: OccupancyOptions
    @Option(help: "The SVG file to write.") var out: String

    func run() throws {
        let (decision, _, samples, panels) = try which.load()
        try ProfilePlot.svg(lane: which.lane, decision: decision, samples: samples, panels: max(panels, 1)).write(toFile: out, atomically: true, encoding: .utf8)
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One occupancy: its decision and its samples, as JSON.")
    @OptionGroup var which: OccupancyOptions

    func run() throws {
        let (decision, wall, samples, panels) = try which.load()
        let lane = which.lane
        let gamma = samples.map { s in "[" + (0..<panels).map { String(s.gamma[$0]) }.joined(separator: ",") + "]" }.joined(separator: ",")
        print("{\"lane\":\"\(lane)\",\"wallUs\":\(wall),\"decision\":\(DecisionWriter.json(decision, settings: EngineSettings())),\"samples\":\(samples.count),\"gamma\":[\(gamma)]}")
    }
}


/// Provisioning and rotating the lanes' sealing keys (docs/SECURITY.md, "Keys").
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The lanes' record-sealing keys: add a key to a lane (and write the lane's key file), retire one, list them.",
        subcommands: [AddKey.self, RetireKey.self, ListKeys.self])

    struct AddKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Make a new key for a lane: appended to the station's key file, and written with the lane's other live keys to the lane's key file (copy that to the lane's uplink.sealKeyFile).")
        @Option(help: "The station's key file (created, mode 600).") var keys: String
        @Option(help: "The lane, <site>/<lane>.") var lane: String
        @Option(help: "Write the lane's key file here (mode 600).") var laneFile: String
        func run() throws {
            guard LaneName.isValid(lane) else { throw ValidationError("--lane must be <site>/<lane>: 1 to 32 letters, digits, '.', '_' or '-' each") }
            let existing = FileManager.default.fileExists(atPath: keys) ? try stationKeys(keys) : [:]
            let mine = existing[lane] ?? []
            let id = (mine.map(\.id).max() ?? 0) + 1
            guard id <= 255 else { throw fail("\(lane) has used all 255 key ids") }
            let k = LaneKey.generate(id: UInt8(id))
            var text = FileManager.default.fileExists(atPath: keys) ? ((try? String(contentsOfFile: keys, encoding: .utf8)) ?? "") : "# lane-collector sealing keys: <site>/<lane> <id> <key> [retired]\n"
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += "\(lane) \(k.id) \(k.hex)\n"
            try writePrivate(keys, text)
            var laneText = "# sealing keys of \(lane) (uplink.sealKeyFile): <id> <key>; the lane seals with the highest id\n"
            for old in mine where !old.retired { laneText += "\(old.id) \(old.hex)\n" }
            laneText += "\(k.id) \(k.hex)\n"
            try writePrivate(laneFile, laneText)
            print("key \(k.id) added for \(lane); the lane's key file is \(laneFile)" + (mine.isEmpty ? "" : "; retire the old key once the lane seals with \(k.id): lane-collector keys retire --keys \(keys) --lane \(lane) --id \(mine.map(\.id).max()!)"))
        }
    }

    struct RetireKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "retire", abstract: "Retire a lane's key: records sealed with it are refused from then on (restart the collector).")
        @Option(help: "The station's key file.") var keys: String
        @Option(help: "The lane, <site>/<lane>.") var lane: String
        @Option(help: "The key id.") var id: Int
        func run() throws {
            _ = try stationKeys(keys)
            let text = (try? String(contentsOfFile: keys, encoding: .utf8)) ?? ""
            var found = false
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                let f = line.split(separator: " ")
                if f.count == 3, f[0] == lane, Int(f[1]) == id { found = true; return line + " retired" }
                return String(line)
            }
            guard found else { throw fail("\(keys): \(lane) has no live key \(id)") }
            try writePrivate(keys, lines.joined(separator: "\n"))
            print("key \(id) of \(lane) retired")
        }
    }

    struct ListKeys: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the lanes and their key ids (never the keys).")
        @Option(help: "The station's key file.") var keys: String
        func run() throws {
            for (lane, ks) in try stationKeys(keys).sorted(by: { $0.key < $1.key }) {
                print("\(lane): " + ks.map { "\($0.id)\($0.retired ? " (retired)" : "")" }.joined(separator: ", "))
            }
        }
    }
}

func stationKeys(_ path: String) throws -> [String: [LaneKey]] {
    do { return try KeyFile.loadStation(path) } catch { throw fail("\(error)") }
}

/// Writes a file readable by its owner only (keys).
func writePrivate(_ path: String, _ text: String) throws {
    let tmp = path + ".tmp"
    guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
        throw fail("\(path): cannot write")
    }
    chmod(tmp, 0o600)
    guard rename(tmp, path) == 0 else { throw fail("\(path): cannot replace: \(String(cString: strerror(errno)))") }
}

// MARK: sharing (docs/SHARING.md)

func parseTime(_ s: String, _ name: String) throws -> Int64 {
    let day = ISO8601DateFormatter()
    day.formatOptions = [.withFullDate]
    guard let d = day.date(from: s) ?? ISO8601DateFormatter().date(from: s), d.timeIntervalSince1970 >= 0, d.timeIntervalSince1970 < 4_102_444_800 else {
        throw ValidationError("\(name): expected a date (2026-11-01) or a time (2026-11-01T00:00:00Z), found '\(s)'")
    }
    return Int64(d.timeIntervalSince1970 * 1e6)
}

struct Share: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a sharing package for one recipient under its policy, signed, and enter it in the ledger.")
    @OptionGroup var store: StoreOptions
    @Option(help: "The recipient's sharing policy (YAML). Without one, nothing is shared.") var policy: String?
    @Option(help: "From (inclusive): 2026-11-01 or an ISO 8601 time.") var from: String
    @Option(help: "To (exclusive).") var to: String
    @Option(help: "The package directory to make (must not exist).") var out: String
    @Option(help: "The station's signing key ('lane-collector signing-key new').") var signingKey: String
    @Option(help: "The station's name in the manifest.") var station: String = "alarm-station"

    func run() throws {
        guard let policy else { throw fail("no --policy: nothing is shared without a policy for the recipient (docs/SHARING.md)") }
        let p: SharingPolicy
        do { p = try SharingPolicy.load(path: policy) } catch { throw fail("\(error)") }
        let key: Curve25519.Signing.PrivateKey
        do { key = try StationSigningKey.load(path: signingKey) } catch { throw fail("\(error)") }
        let db = try store.open()
        do {
            let s = try SharePackage.write(db: db, policy: p, fromUs: try parseTime(from, "--from"), toUs: try parseTime(to, "--to"), out: out, station: station, signingKey: key)
            print("{\"package\":\"\(s.manifestSha256)\",\"recipient\":\(jsonString(p.recipient)),\"occupancies\":\(s.occupancies),\"excludedByDestination\":\(s.excludedByDestination),\"files\":\(s.files.count),\"out\":\(jsonString(out))}")
        } catch { throw fail("\(error)") }
    }
}

struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "study",
        abstract: "Replay a lane's stored records through the engine with candidate detection settings: alarm and NORM-suspect rates, adjudications, backgrounds, faults, uptime.")
    @OptionGroup var store: StoreOptions
    @Option(help: "The lane (site/lane).") var lane: String
    @Option(help: "From (inclusive): 2026-11-01 or an ISO 8601 time.") var from: String
    @Option(help: "To (exclusive).") var to: String
    @Option(help: "The candidates (YAML: candidates: [{name: ..., detection: {...}}]): each changes the keys it names from the base.") var settings: String
    @Option(help: "The lane's board profile: its detection settings are the base (row 'lane') instead of the shipped settings.") var board: String?
    @Option(help: "Also write report.txt, study.json, CSV tables and SVG plots into this directory.") var out: String?
    func run() throws {
        guard let text = try? String(contentsOfFile: settings, encoding: .utf8) else { throw fail("\(settings): cannot be read") }
        let db = try store.open()
        do {
            let r = try Study.run(db: db, lane: lane, fromUs: try parseTime(from, "--from"), toUs: try parseTime(to, "--to"), candidatesText: text, file: settings, boardPath: board)
            print(r.text, terminator: "")
            if let out { try r.write(to: out) }
        } catch { throw fail("\(error)") }
    }
}

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store a simulated month of one lane (the real controller on virtual time: trucks, NORM loads, a few sources, a silent panel, a restart), to try the threshold study.")
    @OptionGroup var store: StoreOptions
    @Option(help: "The lane (site/lane).") var lane: String = "PORT/LANE-01"
    @Option(help: "The first day (2026-11-01).") var from: String = "2026-11-01"
    @Option(help: "Days.") var days: Int = 30
    @Option(help: "Trucks per day.") var trucksPerDay: Int = 288
    @Option(help: "Lane time per day, seconds (86400: the lane runs all day; less compresses each day's traffic).") var laneSecondsPerDay: Int = 86_400
    @Option(help: "Random seed.") var seed: UInt64 = 1
    func run() throws {
        var o = MonthGenerator.Options()
        o.lane = lane
        o.days = days
        o.trucksPerDay = trucksPerDay
        o.laneSecondsPerDay = laneSecondsPerDay
        o.seed = seed
        o.epoch = 0x5EED_0000_0000_0000 | (seed & 0xFFFF_FFFF)
        do {
            o.startWallUs = try parseTime(from, "--from")
            var g = MonthGenerator(db: try store.open(), options: o)
            let s = try g.run()
            print("{\"lane\":\(jsonString(lane)),\"records\":\(s.records),\"samples\":\(s.samples),\"occupancies\":\(s.occupancies),\"alarms\":\(s.alarms),\"normSuspect\":\(s.normSuspect)}")
        } catch { throw fail("\(error)") }
    }
}

struct AdjudicationReport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "adjudications",
        abstract: "Alarms by adjudication code (the latest per occupancy) over a period.")
    @OptionGroup var store: StoreOptions
    @Option(help: "Only these lanes (site/lane; repeat).") var lane: [String] = []
    @Option(help: "From (inclusive): 2026-11-01 or an ISO 8601 time.") var from: String
    @Option(help: "To (exclusive).") var to: String
    @Flag(help: "CSV instead of a table.") var csv = false
    func run() throws {
        let db = try store.open()
        do {
            let st = try db.adjudicationStats(lanes: lane.isEmpty ? nil : Set(lane), fromUs: try parseTime(from, "--from"), toUs: try parseTime(to, "--to"))
            print(csv ? st.csv : st.table, terminator: "")
        } catch { throw fail("\(error)") }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a sharing package: the station's signature over its manifest, every file's hash, nothing added.")
    @Argument(help: "The package directory.") var package: String
    @Option(help: "The station's public key (from a trusted channel, not from the package).") var publicKey: String
    func run() throws {
        do {
            let r = try SharePackage.verify(package, publicKey: try StationSigningKey.publicKey(path: publicKey))
            print("verified: \(r.files) files, manifest \(r.manifestSha256)")
        } catch { throw fail("\(error)", code: 1) }
    }
}

struct Ledger: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The sharing ledger: every package sent (and received), as JSON Lines.", subcommands: [List.self, Receive.self], defaultSubcommand: List.self)
    struct List: ParsableCommand {
        @OptionGroup var store: StoreOptions
        func run() throws { for l in try store.open().ledger() { print(l) } }
    }
    struct Receive: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a package received from a partner (verified first).")
        @OptionGroup var store: StoreOptions
        @Argument var package: String
        @Option(help: "The partner.") var from: String
        @Option(help: "The partner station's public key.") var publicKey: String
        @Option(help: "What it was given for.") var purpose: String
        func run() throws {
            do {
                let r = try SharePackage.verify(package, publicKey: try StationSigningKey.publicKey(path: publicKey))
                try store.open().ledgerAdd(id: r.manifestSha256, madeUs: wallClockMicros(), direction: "received", party: from, purpose: purpose, policySha256: "",
                                          fromUs: 0, toUs: 0, files: r.files, path: package)
                print("recorded: \(r.manifestSha256) from \(from)")
            } catch { throw fail("\(error)", code: 1) }
        }
    }
}

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "manifest", abstract: "Import the terminal's cargo manifest (CSV: container,destination_port,destination_country,vessel,voyage).")
    @OptionGroup var store: StoreOptions
    @Argument var file: String
    func run() throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw fail("\(file): cannot read the manifest") }
        let (entries, errors) = CargoManifest.parse(text, file: file)
        for e in errors { FileHandle.standardError.write(Data("lane-collector: \(e) (row refused)\n".utf8)) }
        let n = try store.open().importManifest(entries)
        print("imported \(n) containers, \(errors.count) rows refused")
        if !errors.isEmpty { throw ExitCode(1) }
    }
}

struct SigningKey: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "signing-key", abstract: "Make the station's package signing key (Ed25519): the key (mode 600) and KEY.pub to give recipients.")
    @Argument var key: String
    func run() throws {
        do { print("public key: \(try StationSigningKey.create(path: key)) (\(key).pub)") } catch { throw fail("\(error)") }
    }
}

struct Adjudicate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Record the outcome of an alarm's secondary inspection (codes 1-11; a later record adds, never rewrites).")
    @OptionGroup var store: StoreOptions
    @Option(help: "The lane (site/lane).") var lane: String
    @Option(help: "The occupancy number (its latest record).") var occupancy: UInt32
    @Option(help: "1 contraband, 2 real other, 3 medical isotope, 4 NORM, 5 declared shipment, 6 inspection negative, 7 RIID background only, 8 false other, 9 test/maintenance/training, 10 unauthorized activity, 11 other.") var code: Int
    @Option(help: "Secondary inspection: none, requested, completed.") var state: String = "completed"
    @Option(help: "Isotopes identified.") var isotopes: String = ""
    @Option(help: "The vehicle's id.") var vehicle: String = ""
    @Option(help: "Notes.") var notes: String = ""
    @Option(help: "Who adjudicated.") var by: String
    func run() throws {
        do {
            let (e, s) = try store.open().adjudicate(lane: lane, number: occupancy, code: code, state: state, isotopes: isotopes, vehicle: vehicle, notes: notes, by: by)
            print("recorded: \(lane) occupancy \(occupancy) (epoch \(epochHex(e)), record \(s)): code \(code), \(Adjudication.codes[code] ?? "")")
        } catch { throw fail("\(error)") }
    }
}
