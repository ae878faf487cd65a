// Board profiles (Boards/*.yaml, docs/BOARD-PROFILES.md): which lane this is, how the panels
// are reached, which GPIO lines carry the beams and the outputs, the geometry and the detection
// settings. A broken profile is refused before anything starts, with the file, line and key.

import Foundation
import LaneCore
import LaneHAL
import LaneUplink
import Yams

public struct BoardProfile: Sendable {
    public enum GPIO: Sendable, Equatable {
        case sim(socket: String)
        case gpiod(GPIODConfig)
    }

    public var file: String
    public var board: String
    public var site: String
    public var laneID: String
    public var panelLabels: [String]
    public var unitIDs: [Int]
    public var registerMap: PanelRegisterMap
    public var transport: ModbusTransport
    public var timeouts: ModbusTimeouts
    /// A panel is reported silent after this many failed polls in a row.
    public var panelSilentAfterPolls: Int
    /// The window split the agent asks every panel for at start-up and after every reconnect
    /// (`panels.windowSplitKev`; nil: the panels keep theirs). docs/DETECTION.md.
    public var windowSplitKev: Int? = nil
    /// Multi-window panels: the boundaries (K + 1, keV) the agent sets at start-up and after
    /// every reconnect or panel restart (`panels.windowBoundariesKev`; nil: the panels keep theirs).
    public var windowBoundariesKev: [Int]? = nil
    /// Multi-window panels: the check sources whose shapes the directed test knows
    /// (`detection.checkSourceShapes`; the shapes are in `engine`), by the names the profile gives.
    public var checkSourceNames: [String] = []
    public var gpio: GPIO
    public var engine: EngineSettings
    public var sirenUs: Int64
    public var alarmLightHoldUs: Int64
    /// Where records are kept until the alarm station has them (nil: not kept).
    public var journalDirectory: String?
    public var journalSegmentBytes: Int = 1 << 20
    public var journalBytesMax: Int = 256 << 20
    /// Space set aside on the journal's file system for decisions, alarms and faults when it
    /// fills up (docs/UPLINK.md, "Storage faults").
    public var journalReserveBytes: Int = 256 << 10
    /// SCHED_FIFO priority for the tick thread (nil: normal scheduling) and locked memory.
    public var realtimePriority: Int32?
    public var lockMemory = false
    /// The RS-485 bus budget (nil for Modbus TCP).
    public var busBudget: BusBudget?
    /// TCP port of the VM-250-style text stream (nil: off).
    public var vm250Port: Int?
    /// The address the VM-250 stream listens on (loopback unless the profile says otherwise)
    /// and the peers it takes (empty: any).
    public var vm250Bind = "127.0.0.1"
    public var vm250Allow: [String] = []
    /// The MQTT uplink to the alarm station (nil: none).
    public var uplink: UplinkConfig?
    /// The gate OCR's connection and message format (nil: no OCR input; docs/OCR.md).
    public var ocr: OCRConfig?
    /// FNV-1a 64 of the profile file's bytes, for heartbeats.
    public var hash: UInt64 = 0
    /// The technician's console (serial port, pseudo-terminal, Unix socket).
    public var console = ConsoleConfig()

    /// Loads and validates a profile file.
    /// `enforceFloors: false` lets detection settings beyond their safety floors load (offline
    /// replay and evaluation only: a running lane always enforces them).
    public static func load(path: String, enforceFloors: Bool = true) throws -> BoardProfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProfileError("\(path): cannot read the board profile (does the file exist?)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ProfileError("\(path): the file is not UTF-8 text") }
        // A bare file name has no directory part: its maps are in ./panels, not /panels.
        let dir = (path as NSString).deletingLastPathComponent
        return try parse(text, file: path, mapDirectory: (dir.isEmpty ? "." : dir) + "/panels", enforceFloors: enforceFloors)
    }

    public static func parse(_ text: String, file: String, mapDirectory: String, enforceFloors: Bool = true) throws -> BoardProfile {
        let root = try YAMLSection.root(file: file, text: text)
        try root.onlyKeys(["board", "lane", "panels", "modbus", "gpio", "geometry", "detection", "outputs", "journal", "uplink", "vm250", "realtime", "console", "ocr"])
        let board = try root.string("board")

        let lane = try root.section("lane")!
        try lane.onlyKeys(["site", "id"])
        let site = try lane.string("site")
        let laneID = try lane.string("id")

        let panels = try root.section("panels")!
        try panels.onlyKeys(["count", "labels", "pillars", "unitIds", "registerMap", "windowSplitKev", "windows", "windowBoundariesKev"])
        let count = try panels.int("count", 1...panelCountMax)
        var labels: [String] = []
        if let nodes = try panels.list("labels", required: false) {
            guard nodes.count == count else { throw panels.error("labels", "has \(nodes.count) labels for \(count) panels", at: panels.value("labels")) }
            for n in nodes { labels.append(try panels.scalar("labels", n, "a label")) }
        } else {
            labels = (0..<count).map { "P\($0 + 1)" }
        }
        var engine = EngineSettings()
        engine.panelCount = count
        if let nodes = try panels.list("pillars", required: false) {
            guard nodes.count == count else { throw panels.error("pillars", "has \(nodes.count) entries for \(count) panels", at: panels.value("pillars")) }
            for (i, n) in nodes.enumerated() {
                let s = try panels.scalar("pillars", n, "A or B")
                guard s == "A" || s == "B" else { throw panels.error("pillars", "entry \(i + 1) is '\(s)'; each panel is on pillar A or B", at: n) }
                engine.pillarOfPanel[i] = s == "A" ? 0 : 1
            }
        } else {
            for i in 0..<count { engine.pillarOfPanel[i] = i < (count + 1) / 2 ? 0 : 1 }
        }
        var unitIDs: [Int] = Array(1...count)
        if let nodes = try panels.list("unitIds", required: false) {
            guard nodes.count == count else { throw panels.error("unitIds", "has \(nodes.count) ids for \(count) panels", at: panels.value("unitIds")) }
            unitIDs = try nodes.map { try panels.int("unitIds", $0, 1...247) }
            guard Set(unitIDs).count == count else { throw panels.error("unitIds", "unit ids must be different", at: panels.value("unitIds")) }
        }
        let mapName = try panels.string("registerMap", default: "reference-panel-v1")
        var registerMap = try loadRegisterMap(name: mapName, directory: mapDirectory, from: panels)
        var windowSplitKev: Int? = nil
        if panels.value("windowSplitKev") != nil {
            windowSplitKev = try panels.int("windowSplitKev", 30...3_000)
            guard registerMap.windowSplitRegister != nil else {
                throw panels.error("windowSplitKev", "register map \(registerMap.name) names no window split register (windowSplit: {register: N})", at: panels.value("windowSplitKev"))
            }
        }
        // Multi-window panels: K windows read every tick (the spectral test, docs/DETECTION.md),
        // and optionally the boundaries the agent sets.
        var windowBoundariesKev: [Int]? = nil
        if panels.value("windows") != nil {
            let k = try panels.int("windows", 3...windowCountMax)
            guard registerMap.windowBlock != nil else {
                throw panels.error("windows", "register map \(registerMap.name) has no window block (windows: {count: N, first: N, boundaries: N}); use reference-panel-mw-v1 or a map that has one", at: panels.value("windows"))
            }
            registerMap = registerMap.withWindows(k)
            engine.spectralWindowCount = k
            if let nodes = try panels.list("windowBoundariesKev", required: false) {
                let at = panels.value("windowBoundariesKev")
                guard nodes.count == k + 1 else { throw panels.error("windowBoundariesKev", "has \(nodes.count) boundaries for \(k) windows (give K + 1 = \(k + 1), the lower-level discriminator first)", at: at) }
                let b = try nodes.map { try panels.int("windowBoundariesKev", $0, 1...20_000) }
                for j in 1..<b.count where b[j] <= b[j - 1] {
                    throw panels.error("windowBoundariesKev", "boundary \(j + 1) (\(b[j]) keV) is not above boundary \(j) (\(b[j - 1]) keV): they must rise strictly", at: at)
                }
                if let split = windowSplitKev, !b.dropFirst().dropLast().contains(split) {
                    throw panels.error("windowSplitKev", "\(split) keV is not one of the inner window boundaries \(b.dropFirst().dropLast().map(String.init).joined(separator: ", ")) (the panel refuses a split that is not a boundary)", at: panels.value("windowSplitKev"))
                }
                windowBoundariesKev = b
            }
        } else if panels.value("windowBoundariesKev") != nil {
            throw panels.error("windowBoundariesKev", "needs panels.windows (how many windows the panels count into)", at: panels.value("windowBoundariesKev"))
        }

        let modbus = try root.section("modbus")!
        let transportName = try modbus.oneOf("transport", ["tcp", "rtu"])
        let transport: ModbusTransport
        if transportName == "tcp" {
            try modbus.onlyKeys(["transport", "host", "port", "responseTimeoutMs", "byteTimeoutMs", "panelSilentAfterPolls", "panelReplyMs"])
            transport = .tcp(host: try modbus.string("host"), port: try modbus.int("port", 1...65535, default: 502))
        } else {
            try modbus.onlyKeys(["transport", "device", "baud", "parity", "dataBits", "stopBits", "responseTimeoutMs",
                                 "byteTimeoutMs", "panelSilentAfterPolls", "panelReplyMs"])
            let baud = try modbus.int("baud", 1200...921_600, default: 115_200)
            let parity = try modbus.oneOf("parity", ["none", "even", "odd"], default: "none")
            transport = .rtu(
                device: try modbus.string("device"), baud: baud,
                parity: parity == "none" ? UInt8(ascii: "N") : parity == "even" ? UInt8(ascii: "E") : UInt8(ascii: "O"),
                dataBits: try modbus.int("dataBits", 7...8, default: 8), stopBits: try modbus.int("stopBits", 1...2, default: 1))
        }
        let responseMs = try modbus.int("responseTimeoutMs", 5...1000, default: 30)
        let replyMs = try modbus.int("panelReplyMs", 0...1000, default: 5)
        let byteMs = try modbus.int("byteTimeoutMs", 1...1000, default: 10)
        let silentAfter = try modbus.int("panelSilentAfterPolls", 1...600, default: 10)

        let gpioSection = try root.section("gpio")!
        let driver = try gpioSection.oneOf("driver", ["sim", "gpiod"])
        let gpio: GPIO
        if driver == "sim" {
            try gpioSection.onlyKeys(["driver", "socket"])
            gpio = .sim(socket: try gpioSection.string("socket"))
        } else {
            try gpioSection.onlyKeys(["driver", "chip", "beams", "beamActiveLow", "outputs"])
            // A line is its offset on the chip or its name (gpioinfo shows both).
            func lineRef(_ section: YAMLSection, _ key: String, _ node: Node) throws -> GPIOLine {
                if case let .scalar(sc) = node, let n = YAMLSection.parseInt(sc.string) {
                    guard (0...1023).contains(n) else { throw section.error(key, "line \(n) is out of range 0...1023", at: node) }
                    return .offset(n)
                }
                let name = try section.scalar(key, node, "a line offset or name")
                guard !name.isEmpty, name.count <= 63, name.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                    throw section.error(key, "'\(name)' is neither a line offset nor a line name (up to 63 characters, no spaces)", at: node)
                }
                return .name(name)
            }
            let beamNodes = try gpioSection.list("beams")!
            guard beamNodes.count == 2 else { throw gpioSection.error("beams", "give the lines of the 2 beams (entry, exit), by offset or name", at: gpioSection.value("beams")) }
            let beams = try beamNodes.map { try lineRef(gpioSection, "beams", $0) }
            guard beams[0] != beams[1] else { throw gpioSection.error("beams", "the two beams must be on different lines", at: gpioSection.value("beams")) }
            let outs = try gpioSection.section("outputs")!
            try outs.onlyKeys(LaneOutput.allCases.map(\.name))
            var outputLines: [LaneOutputLine] = []
            for o in LaneOutput.allCases {
                guard let node = outs.value(o.name) else { continue }
                let ref = try lineRef(outs, o.name, node)
                if beams.contains(ref) || outputLines.contains(where: { $0.line == ref }) {
                    throw outs.error(o.name, "\(ref) is already used by another beam or output", at: node)
                }
                outputLines.append(LaneOutputLine(output: o, line: ref))
            }
            gpio = .gpiod(GPIODConfig(chip: try gpioSection.string("chip"), beams: beams,
                                      beamActiveLow: try gpioSection.bool("beamActiveLow", default: true), outputs: outputLines))
        }

        if let geometry = try root.section("geometry", required: false) {
            try geometry.onlyKeys(["beamSpacingM"])
            engine.beamSpacingMm = Int64((try geometry.double("beamSpacingM", 0.1...20) * 1000).rounded())
        }
        var checkSourceNames: [String] = []
        if let det = try root.section("detection", required: false) {
            try applyDetection(det, to: &engine, enforceFloors: enforceFloors)
            checkSourceNames = try applyCheckSourceShapes(det, to: &engine)
        }
        var outputValues = TunableValues(engine: engine, sirenUs: 5_000_000, alarmLightHoldUs: 10_000_000)
        if let outputs = try root.section("outputs", required: false) {
            let keys = Tunable.all.filter { $0.section == "outputs" }
            try outputs.onlyKeys(keys.map(\.key))
            for t in keys { try t.read(from: outputs, into: &outputValues, enforceFloors: enforceFloors) }
        }
        let sirenUs = outputValues.sirenUs, holdUs = outputValues.alarmLightHoldUs
        // The RTU bus budget: one tick's polls must fit the tick, with room to spare.
        var busBudget: BusBudget? = nil
        if case let .rtu(_, baud, parity, dataBits, stopBits) = transport {
            let budget = BusBudget(baud: baud, parityBit: parity != UInt8(ascii: "N"), dataBits: dataBits, stopBits: stopBits,
                                   panels: count, registers: registerMap.readCount, replyUs: replyMs * 1000,
                                   tickUs: Int(engine.sampleIntervalUs))
            if !budget.fits {
                throw modbus.error("baud", budget.explanation, at: modbus.value("baud"))
            }
            busBudget = budget
        }
        var journalDirectory: String? = nil
        var segmentBytes = 1 << 20, journalMax = 256 << 20, reserve = 256 << 10
        if let j = try root.section("journal", required: false) {
            try j.onlyKeys(["directory", "segmentKiB", "maxMiB", "reserveKiB"])
            reserve = try j.int("reserveKiB", 0...65_536, default: 256) * 1024
            journalDirectory = try j.string("directory")
            segmentBytes = try j.int("segmentKiB", 1...65_536, default: 1_024) * 1024
            journalMax = try j.int("maxMiB", 1...1_048_576, default: 256) << 20
            guard journalMax >= 2 * segmentBytes else {
                throw j.error("maxMiB", "must hold at least two segments (\(2 * segmentBytes / 1024) KiB)", at: j.value("maxMiB"))
            }
        }
        var realtimePriority: Int32? = nil
        var lockMemory = false
        if let rt = try root.section("realtime", required: false) {
            try rt.onlyKeys(["priority", "lockMemory"])
            if rt.value("priority") != nil { realtimePriority = Int32(try rt.int("priority", 1...99)) }
            lockMemory = try rt.bool("lockMemory", default: false)
        }
        var vm250Port: Int? = nil
        var vm250Bind = "127.0.0.1", vm250Allow: [String] = []
        if let v = try root.section("vm250", required: false) {
            try v.onlyKeys(["port", "bind", "allow"])
            vm250Port = try v.int("port", 1...65535, default: 1601)
            vm250Bind = try v.string("bind", default: "127.0.0.1")
            guard Self.isIPv4(vm250Bind) else { throw v.error("bind", "expected an IPv4 address (127.0.0.1, 0.0.0.0, an interface's), found '\(vm250Bind)'", at: v.value("bind")) }
            vm250Allow = try (v.list("allow", required: false) ?? []).map { try v.scalar("allow", $0, "an IPv4 address") }
            for a in vm250Allow where !Self.isIPv4(a) { throw v.error("allow", "expected IPv4 addresses, found '\(a)'", at: v.value("allow")) }
        }
        var uplink: UplinkConfig? = nil
        if let u = try root.section("uplink", required: false) {
            try u.onlyKeys(["host", "port", "topicPrefix", "username", "password", "caFile", "certFile", "keyFile",
                            "keepaliveS", "batchRecords", "inflight", "sealKeyFile", "insecure"])
            guard journalDirectory != nil else { throw u.error("host", "the uplink sends from the journal: give journal.directory too") }
            var c = UplinkConfig(host: try u.string("host"), port: try u.int("port", 1...65535, default: 1883), site: site, lane: laneID)
            c.topicPrefix = try u.string("topicPrefix", default: "rpm")
            if u.value("username") != nil { c.username = try u.string("username") }
            if u.value("password") != nil { c.password = try u.string("password") }
            if u.value("caFile") != nil { c.caFile = try u.string("caFile") }
            if u.value("certFile") != nil { c.certFile = try u.string("certFile") }
            if u.value("keyFile") != nil { c.keyFile = try u.string("keyFile") }
            if u.value("sealKeyFile") != nil { c.sealKeyFile = try u.string("sealKeyFile") }
            if c.password != nil && c.username == nil { throw u.error("password", "a password needs a username") }
            c.insecure = try u.bool("insecure", default: false)
            // A closed transport by default (docs/SECURITY.md): a real board sends over TLS, and a
            // password never travels in clear, unless the profile says insecure: true.
            if c.caFile == nil && !c.insecure {
                if case .gpiod = gpio {
                    throw u.error("host", "a real board sends over TLS: give caFile (the broker's CA), or insecure: true, which the log and every heartbeat then report")
                }
                if c.username != nil {
                    throw u.error("username", "a username and password without TLS would travel in clear: give caFile, or insecure: true")
                }
            }
            if (c.certFile != nil || c.keyFile != nil) && c.caFile == nil { throw u.error("caFile", "a client certificate needs TLS: give caFile") }
            c.keepaliveS = try u.int("keepaliveS", 5...3600, default: 30)
            c.batchRecordsMax = try u.int("batchRecords", 1...1000, default: 64)
            c.inflightMax = try u.int("inflight", 1...1000, default: 16)
            uplink = c
        }
        var ocr: OCRConfig? = nil
        if let o = try root.section("ocr", required: false) { ocr = try Self.parseOCR(o) }
        var console = ConsoleConfig()
        if let c = try root.section("console", required: false) {
            console = try ConsoleConfig.parse(c, profileDirectory: (file as NSString).deletingLastPathComponent.isEmpty ? "." : (file as NSString).deletingLastPathComponent)
        }
        if let problem = engine.firstProblem() {
            throw ProfileError("\(file): detection settings are inconsistent: \(problem)")
        }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        var profile = BoardProfile(
            file: file, board: board, site: site, laneID: laneID, panelLabels: labels, unitIDs: unitIDs,
            registerMap: registerMap, transport: transport,
            timeouts: ModbusTimeouts(responseUs: responseMs * 1000, byteUs: byteMs * 1000),
            panelSilentAfterPolls: silentAfter, gpio: gpio, engine: engine, sirenUs: sirenUs, alarmLightHoldUs: holdUs,
            journalDirectory: journalDirectory, journalSegmentBytes: segmentBytes, journalBytesMax: journalMax, realtimePriority: realtimePriority, lockMemory: lockMemory, busBudget: busBudget, vm250Port: vm250Port, uplink: uplink, hash: hash, console: console)
        profile.journalReserveBytes = reserve
        profile.vm250Bind = vm250Bind
        profile.vm250Allow = vm250Allow
        profile.ocr = ocr
        profile.windowSplitKev = windowSplitKev
        profile.windowBoundariesKev = windowBoundariesKev
        profile.checkSourceNames = checkSourceNames
        return profile
    }

    /// `host:port` with an IPv4 address.
    static func endpoint(_ s: YAMLSection, _ k: String) throws -> (String, Int) {
        let v = try s.string(k)
        let parts = v.split(separator: ":")
        guard parts.count == 2, isIPv4(String(parts[0])), let port = Int(parts[1]), (0...65535).contains(port) else {
            throw s.error(k, "expected an IPv4 address and a port (127.0.0.1:7070), found '\(v)'", at: s.value(k))
        }
        return (String(parts[0]), port)
    }

    /// The `ocr` section (docs/OCR.md).
    static func parseOCR(_ o: YAMLSection) throws -> OCRConfig {
        try o.onlyKeys(["connect", "listen", "allow", "format", "pattern", "root", "fields", "time", "confidence",
                        "lateS", "earlyS", "minConfidence", "clockToleranceS", "reconnectS", "messageBytesMax"])
        let endpoint: OCRConfig.Endpoint
        switch (o.value("connect") != nil, o.value("listen") != nil) {
        case (true, false):
            let (h, p) = try Self.endpoint(o, "connect")
            guard p > 0 else { throw o.error("connect", "port 0 cannot be connected to", at: o.value("connect")) }
            if o.value("allow") != nil { throw o.error("allow", "only with listen: the agent connects to the OCR system here") }
            endpoint = .connect(host: h, port: p)
        case (false, true):
            let (h, p) = try Self.endpoint(o, "listen")
            let allow = try (o.list("allow", required: false) ?? []).map { try o.scalar("allow", $0, "an IPv4 address") }
            for a in allow where !isIPv4(a) { throw o.error("allow", "expected IPv4 addresses, found '\(a)'", at: o.value("allow")) }
            endpoint = .listen(host: h, port: p, allow: allow)
        default:
            throw o.error("connect", "give either connect: HOST:PORT (the agent connects to the OCR system) or listen: HOST:PORT (it connects to the agent)")
        }
        let kind: OCRFormat.Kind
        switch try o.oneOf("format", ["line", "xml"], default: "line") {
        case "line":
            for k in ["root", "fields"] where o.value(k) != nil { throw o.error(k, "only with format: xml") }
            kind = .line(pattern: try o.string("pattern", default: OCRFormat.simulatorPattern))
        default:
            if o.value("pattern") != nil { throw o.error("pattern", "only with format: line") }
            guard let f = try o.section("fields", required: true) else { throw o.error("fields", "required") }
            try f.onlyKeys(["container", "confidence", "time", "plate"])
            let names = try ["container", "confidence", "time", "plate"].map { k -> String? in
                guard f.value(k) != nil else { return nil }
                let v = try f.string(k)
                let bare = v.hasPrefix("@") ? String(v.dropFirst()) : v
                guard !bare.isEmpty, bare.allSatisfy({ $0.isLetter || $0.isNumber || "_-.:".contains($0) }) else {
                    throw f.error(k, "expected an XML element name, or @name for an attribute, found '\(v)'", at: f.value(k))
                }
                return v
            }
            guard let container = names[0], !container.hasPrefix("@") else { throw f.error("container", "required: the element holding a container number") }
            kind = .xml(root: try o.string("root"), container: container, confidence: names[1], time: names[2], plate: names[3])
        }
        var format = OCRFormat(kind: kind)
        format.time = OCRFormat.TimeFormat(rawValue: try o.oneOf("time", OCRFormat.TimeFormat.allCases.map(\.rawValue), default: "iso8601"))!
        format.confidence = OCRFormat.ConfidenceScale(rawValue: try o.oneOf("confidence", OCRFormat.ConfidenceScale.allCases.map(\.rawValue), default: "percent"))!
        format.messageBytesMax = try o.int("messageBytesMax", 256...65536, default: 4096)
        var c = OCRConfig(endpoint: endpoint, format: format)
        c.matching.lateUs = Int64(try o.double("lateS", 0...120, default: 15) * 1e6)
        c.matching.earlyUs = Int64(try o.double("earlyS", 0...60, default: 2) * 1e6)
        c.matching.minConfidence = UInt8(try o.int("minConfidence", 0...100, default: 0))
        c.clockToleranceS = try o.double("clockToleranceS", 0...3600, default: 120)
        c.reconnectS = try o.double("reconnectS", 0.1...60, default: 2)
        do { _ = try OCRMessageParser(format) } catch let e as ProfileError {
            throw o.error(o.value("pattern") != nil ? "pattern" : "format", e.message.replacingOccurrences(of: "ocr.pattern: ", with: ""), at: o.value("pattern"))
        }
        return c
    }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in p.count <= 3 && UInt8(p) != nil }
    }

    package static let detectionKeys = [
        "sampleIntervalMs", "holdInS", "gammaWindowS", "gammaSigma", "learnSigma", "neutronWindowS", "neutronSigma",
        "neutronMinExcessCounts", "neutronBurstClip", "backgroundWarmupS", "backgroundTimeConstantS", "normDiscrimination", "normLowShareMin", "normShareMax", "normTestSigma", "normFromTraffic", "checkSourceLowShare",
        "gammaCeilingSigma", "spectralSigma", "spectralNormSigma", "spectralNormShareSigma", "hardBinDivisor", "directedSigma", "matchedSigma", "matchedDirectedSigma", "matchedMisfitSigma", "checkSourceShapes", "gammaBackgroundHighCps", "gammaBackgroundLowCps", "viewLengthM", "gammaWindowMinS",
        "backgroundSlowTimeConstantS", "backgroundHoldDrop", "backgroundHoldMaxS", "backgroundGateSigma", "backgroundGateMaxS", "dwellIntegration", "suppressionMinCounts", "backgroundUncertainty",
    ]

    /// Detection settings; seconds become sample counts at the sample interval (rounded).
    /// `intervalMs`: the sample interval when the section does not give one (a study's
    /// candidates take the lane's).
    package static func applyDetection(_ det: YAMLSection, to e: inout EngineSettings, enforceFloors: Bool = true, intervalMs defaultMs: Int = 100) throws {
        try det.onlyKeys(detectionKeys)
        let intervalMs = try det.int("sampleIntervalMs", 10...1000, default: defaultMs)
        e.sampleIntervalUs = Int64(intervalMs) * 1000
        func samples(_ k: String, _ d: Double, max: Int) throws -> Int {
            let s = try det.double(k, 0.01...3600, default: d)
            let n = Int((s * 1000 / Double(intervalMs)).rounded())
            guard n >= 1 && n <= max else {
                throw det.error(k, "\(s) s is \(n) samples at \(intervalMs) ms; allowed 1 to \(max) samples", at: det.value(k))
            }
            return n
        }
        // Defaults come from EngineSettings (one place for them): seconds at its nominal interval,
        // Q8 sigmas and Q16 shares as decimals.
        let d = EngineSettings()
        func seconds(_ n: Int) -> Double { Double(n) * Double(d.sampleIntervalUs) / 1e6 }
        func q8(_ x: Int64) -> Double { Double(x) / 256 }
        func q16(_ x: Int64) -> Double { Double(x) / 65536 }
        e.gammaWindowSamples = try samples("gammaWindowS", seconds(d.gammaWindowSamples), max: EngineSettings.windowSamplesMax)
        e.neutronWindowSamples = try samples("neutronWindowS", seconds(d.neutronWindowSamples), max: EngineSettings.windowSamplesMax)
        e.neutronBurstClip = Int64(try det.int("neutronBurstClip", 0...1_000_000, default: Int(d.neutronBurstClip)))
        e.backgroundWarmupSamples = try samples("backgroundWarmupS", seconds(d.backgroundWarmupSamples), max: 100_000)
        e.backgroundReadySamples = min(e.backgroundReadySamples, e.backgroundWarmupSamples)
        let tau = try samples("backgroundTimeConstantS", seconds(1 << d.backgroundShift), max: 65_536)
        e.backgroundShift = max(1, Int((log2(Double(tau))).rounded()))
        e.viewLengthMm = Int64((try det.double("viewLengthM", 0...50, default: Double(d.viewLengthMm) / 1000) * 1000).rounded())
        e.gammaWindowSamplesMin = try samples("gammaWindowMinS", seconds(d.gammaWindowSamplesMin), max: EngineSettings.windowSamplesMax)
        let slowTau = try samples("backgroundSlowTimeConstantS", seconds(1 << d.backgroundSlowShift), max: 1 << 20)
        e.backgroundSlowShift = max(e.backgroundShift, Int((log2(Double(slowTau))).rounded()))
        e.backgroundHoldDropQ16 = Int64((try det.double("backgroundHoldDrop", 0...0.5, default: q16(d.backgroundHoldDropQ16)) * 65536).rounded())
        e.backgroundHoldMaxSamples = try samples("backgroundHoldMaxS", seconds(d.backgroundHoldMaxSamples), max: 1 << 24)
        e.backgroundGateSigmaQ8 = Int64((try det.double("backgroundGateSigma", 0...1000, default: q8(d.backgroundGateSigmaQ8)) * 256).rounded())
        e.backgroundGateMaxSamples = try samples("backgroundGateMaxS", seconds(d.backgroundGateMaxSamples), max: 1 << 24)
        e.dwellIntegration = try det.bool("dwellIntegration", default: d.dwellIntegration)
        e.backgroundUncertainty = try det.bool("backgroundUncertainty", default: d.backgroundUncertainty)
        e.suppressionCountsMin = Int64(try det.int("suppressionMinCounts", 1...1_000_000_000, default: Int(d.suppressionCountsMin)))
        e.normShareMaxQ16 = Int64((try det.double("normShareMax", 0...0.95, default: q16(d.normShareMaxQ16)) * 65536).rounded())
        e.normTestSigmaQ8 = Int64((try det.double("normTestSigma", 0...50, default: q8(d.normTestSigmaQ8)) * 256).rounded())
        if enforceFloors { try ProfileFloor.check(det) }
        // The console's tunables, read with their one definition (range, precision) from the table.
        var values = TunableValues(engine: e, sirenUs: 0, alarmLightHoldUs: 0)
        for t in Tunable.all where t.section == "detection" { try t.read(from: det, into: &values, enforceFloors: enforceFloors) }
        e = values.engine
        if e.gammaCeilingSigmaQ8 < e.gammaSigmaQ8 {
            throw det.error("gammaCeilingSigma", "must not be below gammaSigma", at: det.value("gammaCeilingSigma"))
        }
        if e.gammaBackgroundHighCps > 0 && e.gammaBackgroundHighCps <= e.gammaBackgroundLowCps {
            throw det.error("gammaBackgroundHighCps", "must be above gammaBackgroundLowCps", at: det.value("gammaBackgroundHighCps"))
        }
    }

    /// `detection.checkSourceShapes` (multi-window panels): up to four check sources' shapes, each
    /// `{source: NAME, shares: [K numbers]}`, the shares of the source's net counts per window as
    /// `sourcecheck` prints them. Returns the names; the shapes go into the engine's settings.
    package static func applyCheckSourceShapes(_ det: YAMLSection, to e: inout EngineSettings) throws -> [String] {
        guard let items = try det.list("checkSourceShapes", required: false) else { return [] }
        let at = det.value("checkSourceShapes")
        let k = e.spectralWindowCount
        guard k >= 3 else {
            throw det.error("checkSourceShapes", "needs multi-window panels (panels.windows): the directed test compares shapes over K windows", at: at)
        }
        guard items.count <= EngineSettings.threatShapeCountMax else {
            throw det.error("checkSourceShapes", "has \(items.count) sources; at most \(EngineSettings.threatShapeCountMax)", at: at)
        }
        var names: [String] = []
        e.spectralThreatShapesQ16 = InlineArray(repeating: 0)
        for (j, item) in items.enumerated() {
            let entry = try YAMLSection(file: det.file, path: det.key("checkSourceShapes[\(j + 1)]"), node: item)
            try entry.onlyKeys(["source", "shares"])
            let name = try entry.string("source")
            guard name.utf8.count <= 24, !names.contains(name) else {
                throw entry.error("source", name.utf8.count > 24 ? "'\(name)' is longer than 24 characters" : "'\(name)' appears twice", at: entry.value("source"))
            }
            let shares = try entry.list("shares")!
            guard shares.count == k else {
                throw entry.error("shares", "has \(shares.count) shares for \(k) windows (one per window, as sourcecheck prints them)", at: entry.value("shares"))
            }
            var sum = 0.0
            for (i, node) in shares.enumerated() {
                let text = try entry.scalar("shares", node, "a number")
                guard let x = Double(text), x.isFinite else { throw entry.error("shares", "share \(i + 1): expected a number, found '\(text)'", at: node) }
                guard (-2...2).contains(x) else { throw entry.error("shares", "share \(i + 1): \(text) is out of range (-2 to 2)", at: node) }
                e.spectralThreatShapesQ16[j * windowCountMax + i] = Int64((x * 65536).rounded())
                sum += x
            }
            guard (0.9...1.1).contains(sum) else {
                throw entry.error("shares", String(format: "add up to %.3f; the shares of a source's net counts add up to 1 (0.9 to 1.1 taken)", sum), at: entry.value("shares"))
            }
            names.append(name)
        }
        e.spectralThreatShapeCount = names.count
        return names
    }

    /// Register maps are data: `<board dir>/panels/<name>.yaml`; the reference map is also built in.
    static func loadRegisterMap(name: String, directory: String, from s: YAMLSection) throws -> PanelRegisterMap {
        let path = directory + "/" + name + ".yaml"
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            if name == PanelRegisterMap.referencePanelV1.name { return .referencePanelV1 }
            if name == PanelRegisterMap.referencePanelMwV1.name { return .referencePanelMwV1 }
            throw s.error("registerMap", "no register map '\(name)' (looked for \(path))", at: s.value("registerMap"))
        }
        return try parseRegisterMap(text, file: path)
    }

    public static func parseRegisterMap(_ text: String, file: String) throws -> PanelRegisterMap {
        let root = try YAMLSection.root(file: file, text: text)
        try root.onlyKeys(["name", "inputRegisters", "wordOrder", "fields", "status", "command", "windowSplit", "windows"])
        let input = try root.section("inputRegisters")!
        try input.onlyKeys(["start", "count"])
        let start = try input.int("start", 0...65535)
        let count = try input.int("count", 1...125)
        let order = try root.oneOf("wordOrder", ["highFirst", "lowFirst"])
        let f = try root.section("fields")!
        let names = ["gammaTotal", "gammaLow", "neutron", "uptimeMs", "status", "highVoltage", "temperature", "firmware"]
        try f.onlyKeys(names)
        var off: [String: Int] = [:]
        for n in names {
            let wide = ["gammaTotal", "gammaLow", "neutron", "uptimeMs"].contains(n)
            off[n] = try f.int(n, 0...(count - (wide ? 2 : 1)))
        }
        let st = try root.section("status")!
        try st.onlyKeys(["okMask", "tamperMask", "faultMask"])
        let cmd = try root.section("command")!
        try cmd.onlyKeys(["register", "selfTest"])
        var splitRegister: Int? = nil
        if let split = try root.section("windowSplit") {
            try split.onlyKeys(["register"])
            splitRegister = try split.int("register", 0...65535)
        }
        var windowBlock: PanelRegisterMap.WindowBlock? = nil
        if let w = try root.section("windows", required: false) {
            // The window block may lie beyond `count`: the read grows to cover K windows.
            try w.onlyKeys(["count", "first", "boundaries"])
            windowBlock = .init(countOffset: try w.int("count", 0...124), firstOffset: try w.int("first", 0...(125 - 2 * windowCountMax)),
                                boundaryRegister: try w.int("boundaries", 0...(65535 - windowCountMax)))
        }
        var map = PanelRegisterMap(
            name: try root.string("name"), readStart: start, readCount: count, wordOrder: order == "highFirst" ? .highFirst : .lowFirst,
            gammaTotal: off["gammaTotal"]!, gammaLow: off["gammaLow"]!, neutron: off["neutron"]!, uptimeMs: off["uptimeMs"]!,
            status: off["status"]!, highVoltage: off["highVoltage"]!, temperature: off["temperature"]!, firmware: off["firmware"]!,
            statusOkMask: UInt16(try st.int("okMask", 0...0xFFFF)), tamperMask: UInt16(try st.int("tamperMask", 0...0xFFFF)),
            statusFaultMask: UInt16(try st.int("faultMask", 0...0xFFFF, default: 0)),
            commandRegister: try cmd.int("register", 0...65535), selfTestValue: UInt16(try cmd.int("selfTest", 0...0xFFFF)),
            windowSplitRegister: splitRegister)
        map.windowBlock = windowBlock
        return map
    }
}

extension EngineSettings.Problem: CustomStringConvertible {
    public var description: String {
        switch self {
        case .panelCount: return "panel count out of range"
        case .pillar: return "a panel's pillar is not A or B"
        case .beamSpacing: return "geometry.beamSpacingM out of range"
        case .holdIn: return "detection.holdInS out of range"
        case .sampleInterval: return "detection.sampleIntervalMs out of range"
        case .gammaWindow: return "detection.gammaWindowS out of range"
        case .gammaSigma: return "detection.gammaSigma out of range"
        case .learnSigma: return "detection.learnSigma must be 0 to 50 (below gammaSigma: learned at gammaSigma)"
        case .neutronWindow: return "detection.neutronWindowS out of range"
        case .neutronSigma: return "detection.neutronSigma out of range"
        case .neutronExcess: return "detection.neutronMinExcessCounts out of range"
        case .background: return "detection.backgroundWarmupS / backgroundTimeConstantS out of range"
        case .normShare: return "detection.normLowShareMin out of range"
        case .ceiling: return "detection.gammaCeilingSigma is below gammaSigma"
        case .spectral: return "the spectral test's settings are out of range (3 to 16 energy windows, spectralSigma 0 to 50, spectralNormSigma -50 to spectralSigma, spectralNormShareSigma -50 to spectralSigma, hardBinDivisor 20 to 200)"
        case .checkSourceShapes: return "detection.checkSourceShapes: at most 4 shapes of K shares each (-2 to 2), only on multi-window panels; directedSigma, matchedSigma and matchedDirectedSigma 0 to 50, matchedMisfitSigma -50 to 50"
        case .faultLimits: return "detection.gammaBackgroundHighCps must be above gammaBackgroundLowCps"
        }
    }
}
