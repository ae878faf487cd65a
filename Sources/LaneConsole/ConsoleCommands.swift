// The console's command table (docs/CONSOLE.md): name, usage, help, argument counts checked
// before a command runs, whether it needs a technician login, and completions per argument.

import Foundation
import LaneAgent
import LaneCore
import LaneHAL
import LaneTrace
import LaneUplink

struct ConsoleCommand: Sendable {
    let name: String
    let usage: String
    let summary: String
    let help: String
    let minArgs: Int
    let maxArgs: Int
    let privileged: Bool
    let completions: [@Sendable (ConsoleHub) -> [String]]
    let run: @Sendable (ConsoleSession, [String]) -> Void

    init(_ name: String, _ usage: String = "", args: ClosedRange<Int> = 0...0, privileged: Bool = false,
         summary: String, help: String = "", completions: [@Sendable (ConsoleHub) -> [String]] = [],
         run: @escaping @Sendable (ConsoleSession, [String]) -> Void) {
        self.name = name; self.usage = usage; self.summary = summary; self.help = help
        minArgs = args.lowerBound; maxArgs = args.upperBound
        self.privileged = privileged; self.completions = completions; self.run = run
    }
}

enum ConsoleCommands {
    static let outputsWords = ["lights", "siren", "camera", "outputs"]

    static let table: [ConsoleCommand] = [
        ConsoleCommand("help", "[COMMAND]", args: 0...2, summary: "list the commands, or explain one",
                       help: "Any command followed by -h explains it too. Commands marked * need a technician login.",
                       run: { s, a in s.help(a) }),
        ConsoleCommand("status", summary: "lane state, occupancy, alarms, faults, uplink, uptime, version", run: { s, _ in s.status() }),
        ConsoleCommand("version", summary: "software, record format and board profile versions", run: { s, _ in s.version() }),
        ConsoleCommand("counts", "[live]", args: 0...1, summary: "count rates per panel against background and threshold",
                       help: "'counts live' redraws in place with bar graphs (an ANSI terminal) until a key is pressed.",
                       completions: [{ _ in ["live"] }], run: { s, a in s.counts(a) }),
        ConsoleCommand("background", summary: "the learned background per panel and channel", run: { s, _ in s.background() }),
        ConsoleCommand("thresholds", summary: "alarm settings and the thresholds they give now", run: { s, _ in s.thresholds() }),
        ConsoleCommand("config show", summary: "the board profile in force, with the settings changed here marked",
                       run: { s, _ in s.configShow() }),
        ConsoleCommand("config diff", summary: "running settings against the profile file on disk", run: { s, _ in s.configDiff() }),
        ConsoleCommand("faults", summary: "active faults: since when, what each means, what to check; each panel's own",
                       run: { s, _ in s.faults() }),
        ConsoleCommand("beams", summary: "occupancy beams: state, last edges, last speed, stuck-beam check", run: { s, _ in s.beams() }),
        ConsoleCommand("panels", summary: "per panel: link, status bits, high voltage, temperature, poll latency, errors",
                       run: { s, _ in s.panels() }),
        ConsoleCommand("alarms", summary: "recent alarms with their numbers and state", run: { s, _ in s.alarms() }),
        ConsoleCommand("alarms ack", "[NUMBER]", args: 0...1, privileged: true,
                       summary: "acknowledge: the first press silences the siren, the second clears the lights",
                       help: "Without a number: every alarm not yet cleared (as the pillar's button does).",
                       run: { s, a in s.acknowledge(a) }),
        ConsoleCommand("alarms reset", privileged: true, summary: "silence and clear every alarm at once", run: { s, _ in s.resetAlarms() }),
        ConsoleCommand("test", "lights|siren|camera|outputs", args: 1...1, privileged: true,
                       summary: "switch outputs on one at a time, then restore them",
                       help: "Refused while a vehicle is in the lane; a real alarm ends the test at once. Ctrl-C stops it.",
                       completions: [{ _ in outputsWords }], run: { s, a in s.testOutputs(a[0]) }),
        ConsoleCommand("selftest", privileged: true, summary: "pulser self-test of every panel (counts must rise as expected)",
                       help: "Writes the self-test command to each panel; the pulser adds about 1,000 gamma counts/s for 2 s.\nPass: the rise is 700 to 1,300 counts/s. Background learning is held meanwhile.",
                       run: { s, _ in s.selfTest() }),
        ConsoleCommand("sourcecheck", "[PANEL|all]", args: 0...1, privileged: true,
                       summary: "the daily check-source procedure, guided, recorded pass/fail",
                       help: "Place the check source against the panel when asked, press Enter, wait for the measurement.\nPass: net rate at least console.checkSourceMinNetCps. Default: every panel in turn.",
                       completions: [{ h in h.profile.panelLabels + ["all"] }], run: { s, a in s.sourceCheck(a) }),
        ConsoleCommand("modbus read", "UNIT ADDR COUNT [input|holding]", args: 3...4, privileged: true,
                       summary: "read registers from a panel (raw Modbus, through the poll thread)",
                       help: "UNIT 1-247, ADDR 0-65535 (decimal or 0x hex), COUNT 1-125; input registers by default.",
                       completions: [{ h in h.profile.unitIDs.map(String.init) }, { _ in [] }, { _ in [] }, { _ in ["input", "holding"] }],
                       run: { s, a in s.modbusRead(a) }),
        ConsoleCommand("modbus scan", "[FIRST LAST]", args: 0...2, privileged: true,
                       summary: "ask unit ids who they are (report server id); default 1 to 16",
                       run: { s, a in s.modbusScan(a) }),
        ConsoleCommand("journal", summary: "the record journal: size, sequence numbers, acknowledgements, evictions", run: { s, _ in s.journal() }),
        ConsoleCommand("ocr", summary: "the gate OCR: connection, messages, malformed ones and why, the last reads and where they went", run: { s, _ in s.ocrStatus() }),
        ConsoleCommand("uplink", summary: "the link to the alarm station: broker, connection, messages", run: { s, _ in s.uplinkStatus() }),
        ConsoleCommand("stats", summary: "tick timing and every error and drop counter", run: { s, _ in s.stats() }),
        ConsoleCommand("log", "[LINES]", args: 0...1, summary: "recent log lines (default 20, at most 200)", run: { s, a in s.showLog(a) }),
        ConsoleCommand("set", "KEY VALUE", args: 2...2, privileged: true, summary: "change a threshold or tunable (see 'config show')",
                       help: "The value is checked and confirmed, applied when the lane is next empty, and audited.\n'save' writes it into the board profile.",
                       completions: [{ _ in Tunable.all.map(\.key) }, { _ in ["true", "false"] }], run: { s, a in s.set(a[0], a[1]) }),
        ConsoleCommand("save", privileged: true, summary: "write the settings changed here into the board profile file", run: { s, _ in s.save() }),
        ConsoleCommand("maintenance", "[on MINUTES|off]", args: 0...2, privileged: true,
                       summary: "maintenance mode: let 'set' pass the detection safety floors for at most 120 minutes",
                       help: "While it lasts the fault lamp is lit and every decision and heartbeat says so; it is audited upstream.\nWhen it ends (or 'maintenance off'), every setting beyond its floor goes back to the profile's value.",
                       completions: [{ _ in ["on", "off"] }], run: { s, a in s.maintenance(a) }),
        ConsoleCommand("login", "[USER]", args: 0...1, summary: "log in as a technician", run: { s, a in s.login(a.first) }),
        ConsoleCommand("logout", summary: "end the technician login", run: { s, _ in s.logout() }),
        ConsoleCommand("whoami", summary: "who is logged in on this console", run: { s, _ in s.say(s.user.map { "\($0) (technician) on \(s.place)" } ?? "not logged in (look only) on \(s.place)") }),
        ConsoleCommand("exit", summary: "log out and close this connection (a serial console stays open)", run: { s, _ in s.exit() }),
    ]
}

// MARK: - Formatting

func fixed(_ x: Double, _ decimals: Int = 1) -> String { String(format: "%.\(decimals)f", x) }
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
func duration(_ us: Int64) -> String {
    var s = max(0, us / 1_000_000)
    let d = s / 86_400; s %= 86_400
    let h = s / 3600; s %= 3600
    let m = s / 60; s %= 60
    if d > 0 { return "\(d) d \(h) h \(m) min" }
    if h > 0 { return "\(h) h \(m) min \(s) s" }
    if m > 0 { return "\(m) min \(s) s" }
    return fixed(Double(max(0, us)) / 1e6) + " s"
}

func faultNames(_ f: Faults) -> String {
    if f.isEmpty { return "none" }
    var names: [String] = []
    for bit in 0..<Faults.bitCount where f.bits & (1 << UInt32(bit)) != 0 { names.append(Faults.name(bit: bit).description) }
    return names.joined(separator: ", ")
}

extension ConsoleSession {
    var view: LaneView { hub.lane.monitor.snapshot() }
    var settings: EngineSettings { view.settings }
    var panelCount: Int { hub.profile.engine.panelCount }
    var labels: [String] { hub.profile.panelLabels }

    /// Counts per second from counts over `us`.
    func cps(_ counts: UInt32, _ us: Int64) -> Double { us > 0 ? Double(counts) * 1e6 / Double(us) : 0 }
    /// A background (Q16 per nominal sample) as counts per second.
    func bgCps(_ q16: Int64) -> Double { Double(q16) / 65536 * 1e6 / Double(settings.sampleIntervalUs) }
    /// The threshold rate for a 1 s window at `sigmaQ8` over a background of `bg` counts/s.
    func thresholdCps(_ bg: Double, sigmaQ8: Int64) -> Double {
        let windowS = Double(settings.gammaWindowSamples) * Double(settings.sampleIntervalUs) / 1e6
        let b = bg * windowS
        return (b + Double(sigmaQ8) / 256 * b.squareRoot()) / windowS
    }

    func help(_ a: [String]) {
        if a.isEmpty {
            say("Commands (* needs a technician login; 'help COMMAND' or 'COMMAND -h' for more):")
            for c in ConsoleCommands.table {
                say("  \(c.privileged ? "*" : " ") \(pad(c.name + (c.usage.isEmpty ? "" : " " + c.usage), 42)) \(c.summary)")
            }
            say("Keys: Tab completes; Up/Down history; Left/Right, Ctrl-A/E move; Ctrl-U/W/K delete; Ctrl-C cancels.")
            return
        }
        let name = a.joined(separator: " ")
        if let c = ConsoleCommands.table.first(where: { $0.name == name }) { printHelp(c); return }
        let group = ConsoleCommands.table.filter { $0.name.hasPrefix(name + " ") }
        if !group.isEmpty {
            for c in group { printHelp(c) }
            return
        }
        fail("help: no command '\(name)'; 'help' lists them")
    }

    /// A decision's alarms for a technician: "GAMMA ALARM (share)", "NEUTRON ALARM", or both.
    static func alarmWords(_ d: Decision) -> String {
        var words: [String] = []
        if d.gammaAlarm { words.append("GAMMA ALARM" + (d.gammaTests.isEmpty ? "" : " (" + gammaTestNames(d.gammaTests).joined(separator: ", ") + ")")) }
        if d.neutronAlarm { words.append("NEUTRON ALARM") }
        return words.joined(separator: " + ")
    }

    func laneState(_ v: LaneView) -> String {
        if v.gammaAlarmActive || v.neutronAlarmActive {
            return "ALARM (\([v.gammaAlarmActive ? "gamma" : nil, v.neutronAlarmActive ? "neutron" : nil].compactMap { $0 }.joined(separator: " + ")))"
                + " in occupancy \(v.occupancyCount)"
        }
        if v.occupied { return "occupied (occupancy \(v.occupancyCount), \(duration(v.nowUs - v.occupancyStartUs)))" }
        return "idle (lane empty)"
    }

    /// What each fault means and what a technician checks first.
    static let faultAdvice: [String] = [
        "the background is still being learned: occupancies are not screened until it is ready",
        "gamma background above detection.gammaBackgroundHighCps: a source parked near the lane, or a panel fault ('counts')",
        "gamma background below detection.gammaBackgroundLowCps: the panels shielded (a queue, snow), or failing ('counts', 'panels')",
        "a panel does not answer on the bus: its cable, power, termination and unit id ('panels', 'modbus scan')",
        "a panel reports a fault in its status word (high voltage, detector, temperature): 'panels' decodes it",
        "an occupancy beam chatters, stays blocked over 10 minutes, or never changes while the other does: 'beams', its lens and reflector",
        "a console test (self-test, check source, output test) holds background learning",
        "a pillar door is open (tamper switch)",
        "a panel counts far below its own background or the other panels, or not at all: left out of detection ('counts', 'selftest')",
        "an output (lights, siren, camera) could not be switched: its wiring and driver ('test outputs')",
        "the journal cannot keep records (storage full, read-only or failing): screening goes on; 'journal' says why, the alarm station is told what was lost",
        "maintenance mode: detection settings may pass their safety floors until it ends ('maintenance'); then they go back to the profile's",
    ]

    func faults() {
        let v = view
        guard v.published else { say("the lane has not ticked yet (starting)"); return }
        if v.faults.isEmpty { say("no faults: the lane screens with every panel") }
        for bit in 0..<Faults.bitCount where v.faults.bits & (1 &<< UInt32(bit)) != 0 {
            let since = v.nowUs - v.faultRaisedUs[bit]
            say("\(pad(Faults.name(bit: bit).description, 19)) for \(duration(since)): \(bit < Self.faultAdvice.count ? Self.faultAdvice[bit] : "")")
        }
        let map = hub.profile.registerMap
        for p in 0..<panelCount {
            let f = v.panelFlags[p]
            var what: [String] = []
            if f.silent { what.append("silent (no answer)") }
            if f.status {
                var bits: [String] = []
                let missing = map.statusOkMask & ~f.statusWord
                if missing != 0 { bits.append("ok bits 0x\(String(missing, radix: 16, uppercase: true)) clear") }
                if f.statusWord & map.statusFaultMask != 0 { bits.append("fault bits 0x\(String(f.statusWord & map.statusFaultMask, radix: 16, uppercase: true)) set") }
                what.append("status 0x\(String(f.statusWord, radix: 16, uppercase: true)) (\(bits.joined(separator: ", ")))")
            }
            if f.tamper { what.append("door open (tamper)") }
            if f.dead { what.append("dead detector (counts far too low)") }
            guard !what.isEmpty else { continue }
            say("panel \(labels[p]): \(what.joined(separator: "; "))\(v.excludedPanels & (1 &<< UInt32(p)) != 0 ? "; LEFT OUT of detection" : "")")
        }
    }

    func status() {
        let v = view
        guard v.published else { say("the lane has not ticked yet (starting)"); return }
        say("lane \(hub.profile.site)/\(hub.profile.laneID), board \(hub.profile.board), lane-agent \(LaneAgentVersion.string)")
        say("state:      \(laneState(v))")
        say("occupancies: \(v.occupancyCount) since start" + (v.lastDecision.map { d in
            ", last #\(d.occupancy): " + (d.gammaAlarm || d.neutronAlarm ? Self.alarmWords(d) : d.normSuspect ? "NORM suspected" : "clear")
                + (d.speedMmPerS.map { ", \(fixed(Double($0) / 1000, 2)) m/s" } ?? "")
        } ?? ""))
        if let d = v.lastDecision, hub.ocr != nil { say("containers: last #\(d.occupancy): \(OCRJSON.summary(d.ocr))") }
        let open = (0..<v.alarmCount).map { v.alarm($0) }.filter { $0.state != .cleared }
        say("alarms:     \(v.alarmsTotal) since start, \(open.isEmpty ? "none waiting" : "\(open.count) not cleared (\(open.map { "#\($0.number) \($0.state)" }.joined(separator: ", ")))")")
        say("faults:     \(faultNames(v.faults))\(v.faults.isEmpty ? "" : " ('faults' explains them)")")
        say("background: \(v.background.isReady(v.settings) ? "ready" : "LEARNING"), \(v.background.samplesLearned) samples learned"
            + (v.backgroundRestoredAgeUs >= 0 ? " (restored at start from disk, then \(duration(v.backgroundRestoredAgeUs)) old)" : ""))
        var slots = Array(repeating: PanelSlot(), count: panelCount)
        hub.lane.panelSlots(into: &slots)
        let answering = slots.filter { $0.sequence > 0 && $0.consecutiveErrors < hub.profile.panelSilentAfterPolls }.count
        say("panels:     \(answering) of \(panelCount) answering")
        if let u = hub.uplink {
            let st = u.stats
            say("uplink:     \(st.connected ? "connected" : "NOT CONNECTED") to \(u.config.host):\(u.config.port), stored by the alarm station through record \(u.journal.ackedThrough)"
                + (st.lastError.isEmpty || st.connected ? "" : " (\(st.lastError))"))
        } else {
            say("uplink:     none configured")
        }
        if let o = hub.ocr {
            let st = o.stats
            say("OCR:        \(st.connected > 0 ? "connected" : "NOT CONNECTED") (\(o.config.place)), \(st.messages) messages, \(st.malformed) malformed" + (st.connected > 0 || st.lastError.isEmpty ? "" : " (\(st.lastError))"))
        }
        if let j = hub.journal {
            say("journal:    next record \(j.journal.nextSequence), \(j.journal.nextSequence - 1 - min(j.journal.nextSequence - 1, j.journal.ackedThrough)) not yet acknowledged")
        }
        say("ticks:      \(v.ticks), \(v.missedTicks) missed, lateness p99.9 \(v.latenessP999Us) us")
        say("uptime:     \(duration(MonotonicClock.nowUs() - hub.startUs))")
        let changed = Tunable.all.filter { $0.get(hub.values) != $0.get(TunableValues(hub.profile)) }
        say("settings:   \(changed.isEmpty ? "as in \(hub.profile.file)" : "\(changed.count) changed here (\(changed.map(\.key).joined(separator: ", "))); 'config diff'")\(v.settingsPending ? ", waiting for the lane to empty" : "")")
        if v.nowUs < v.maintenanceUntilUs { say("maintenance: a console test is running (background learning held)") }
    }

    func version() {
        say("lane-agent \(LaneAgentVersion.string)")
        say("record format version \(RecordFormat.version), trace contract lane-trace v1")
        say("board profile \(hub.profile.file) (hash \(String(format: "%016llx", hub.profile.hash)))")
        say("panel register map \(hub.profile.registerMap.name)")
    }

    func counts(_ a: [String]) {
        if let w = a.first {
            guard w == "live" else { fail("counts: expected 'live' or nothing, found '\(w)'"); return }
            liveCounts()
            return
        }
        for l in countsTable(view) { say(l) }
    }

    func countsTable(_ v: LaneView) -> [String] {
        var lines: [String] = []
        let us = v.window1sUs
        lines.append("rates over the last \(fixed(Double(us) / 1e6)) s, counts/s; threshold for a \(fixed(Double(settings.gammaWindowSamples) * Double(settings.sampleIntervalUs) / 1e6)) s window at \(Tunable.named("gammaSigma")!.text(hub.values)) sigma")
        lines.append("panel  gamma  backgr  thresh   low%  | neutron  backgr  thresh")
        var tg: UInt32 = 0, tl: UInt32 = 0, tn: UInt32 = 0
        var tb = 0.0, tnb = 0.0
        for p in 0..<panelCount {
            let g = cps(v.gamma1s[p], us), n = cps(v.neutron1s[p], us)
            let bg = bgCps(max(v.background.gammaQ16[p], v.background.gammaSlowQ16[p]))
            let nb = bgCps(max(v.background.neutronQ16[p], v.background.neutronSlowQ16[p]))
            let low = v.gamma1s[p] > 0 ? Double(v.gammaLow1s[p]) * 100 / Double(v.gamma1s[p]) : 0
            tg &+= v.gamma1s[p]; tl &+= v.gammaLow1s[p]; tn &+= v.neutron1s[p]; tb += bg; tnb += nb
            lines.append("\(pad(labels[p], 5)) \(lpad(fixed(g), 6)) \(lpad(fixed(bg), 7)) \(lpad(fixed(thresholdCps(bg, sigmaQ8: settings.gammaSigmaQ8)), 7)) \(lpad(fixed(low, 0), 5)) %  | \(lpad(fixed(n), 7)) \(lpad(fixed(nb, 2), 7)) \(lpad(fixed(thresholdCps(nb, sigmaQ8: settings.neutronSigmaQ8)), 7))")
        }
        let low = tg > 0 ? Double(tl) * 100 / Double(tg) : 0
        lines.append("\(pad("all", 5)) \(lpad(fixed(cps(tg, us)), 6)) \(lpad(fixed(tb), 7)) \(lpad(fixed(thresholdCps(tb, sigmaQ8: settings.gammaSigmaQ8)), 7)) \(lpad(fixed(low, 0), 5)) %  | \(lpad(fixed(cps(tn, us)), 7)) \(lpad(fixed(tnb, 2), 7)) \(lpad(fixed(thresholdCps(tnb, sigmaQ8: settings.neutronSigmaQ8)), 7))")
        lines += windowsTable(v, now: { p, w in self.cps(v.windows1s[p * windowCountMax + w], us) }, title: "energy windows over the last \(fixed(Double(us) / 1e6)) s, counts/s (background in brackets)")
        return lines
    }

    /// Multi-window panels: per panel its K windows (lowest energy first) under the boundaries
    /// it reported, now and against the empty-lane spectrum the spectral test learned.
    func windowsTable(_ v: LaneView, now: ((Int, Int) -> Double)?, title: String) -> [String] {
        let k = v.settings.spectralWindowCount
        guard k >= 3 else { return [] }
        var lines = [title]
        let b = v.windowBoundariesKev[0]
        let same = (0..<panelCount).allSatisfy { p in (0...k).allSatisfy { v.windowBoundariesKev[p][$0] == b[$0] } }
        let header = (0..<k).map { w in b[w + 1] > 0 ? "\(b[w])-\(b[w + 1])" : "w\(w + 1)" }
        lines.append("panel  " + header.map { lpad($0, 15) }.joined(separator: " ") + (same ? " keV" : " keV (panel \(labels[0])'s; the panels differ)"))
        for p in 0..<panelCount {
            var cells: [String] = []
            for w in 0..<k {
                let bg = bgCps(v.spectral.longQ16[p * windowCountMax + w])
                cells.append(lpad(now.map { "\(fixed($0(p, w))) (\(fixed(bg)))" } ?? fixed(bg), 15))
            }
            lines.append("\(pad(labels[p], 6)) " + cells.joined(separator: " "))
        }
        if v.windowMismatches > 0 { lines.append("\(v.windowMismatches) panel readings whose windows did not add up to their gamma counts (their samples had no usable windows)") }
        return lines
    }

    /// Redraws every half second in place (cursor up, erase line) until a key is pressed.
    func liveCounts() {
        say("live counts: press any key to stop")
        var drawn = 0
        while !closed && !stop() {
            let v = view
            var lines = [laneState(v) + "   " + (v.faults.isEmpty ? "" : "faults: " + faultNames(v.faults))]
            let us = v.window1sUs
            for p in 0..<panelCount {
                let g = cps(v.gamma1s[p], us)
                let bg = bgCps(max(v.background.gammaQ16[p], v.background.gammaSlowQ16[p]))
                let thr = thresholdCps(bg, sigmaQ8: settings.gammaSigmaQ8)
                lines.append("\(pad(labels[p], 4)) gamma   \(lpad(fixed(g, 0), 6)) " + bar(g, threshold: thr))
            }
            for p in 0..<panelCount {
                let n = cps(v.neutron1s[p], us)
                let nb = bgCps(max(v.background.neutronQ16[p], v.background.neutronSlowQ16[p]))
                lines.append("\(pad(labels[p], 4)) neutron \(lpad(fixed(n, 1), 6)) " + bar(n, threshold: max(thresholdCps(nb, sigmaQ8: settings.neutronSigmaQ8), 1)))
            }
            if drawn > 0 { sayRaw("\u{1B}[\(drawn)A") }
            for l in lines { sayRaw("\r\u{1B}[K" + l + "\r\n") }
            drawn = lines.count
            flush()
            if keyPressed(within: 500) { break }
        }
        say("(live view stopped)")
    }

    /// 40 columns: '#' up to the rate, '|' at the threshold (full scale 1.5 x the threshold).
    func bar(_ x: Double, threshold: Double) -> String {
        let width = 40
        let scale = max(threshold * 1.5, 1)
        let n = min(width, Int((x / scale * Double(width)).rounded()))
        let t = min(width - 1, Int((threshold / scale * Double(width)).rounded()))
        var chars = Array(repeating: Character("."), count: width)
        for i in 0..<n { chars[i] = "#" }
        chars[t] = "|"
        return "[" + String(chars) + "]" + (x > threshold ? " ABOVE" : "")
    }

    func background() {
        let v = view
        let b = v.background
        say("background: \(b.isReady(v.settings) ? "ready" : "LEARNING (not ready: no alarms possible yet)"), \(b.samplesLearned) empty-lane samples learned; learning only while the lane is empty and fault-free")
        say("counts/s   fast average (tau \(fixed(Double(1 << v.settings.backgroundShift) * Double(v.settings.sampleIntervalUs) / 1e6)) s) / slow average (tau \(fixed(Double(1 << v.settings.backgroundSlowShift) * Double(v.settings.sampleIntervalUs) / 1e6, 0)) s)")
        say("panel      gamma fast/slow     low window fast/slow   neutron fast/slow")
        var total = 0.0
        for p in 0..<panelCount {
            total += bgCps(max(b.gammaQ16[p], b.gammaSlowQ16[p]))
            say("\(pad(labels[p], 6)) \(lpad(fixed(bgCps(b.gammaQ16[p])), 9)) / \(pad(fixed(bgCps(b.gammaSlowQ16[p])), 9)) \(lpad(fixed(bgCps(b.gammaLowQ16[p])), 9)) / \(pad(fixed(bgCps(b.gammaLowSlowQ16[p])), 9)) \(lpad(fixed(bgCps(b.neutronQ16[p]), 2), 7)) / \(fixed(bgCps(b.neutronSlowQ16[p]), 2))")
        }
        let hi = v.settings.gammaBackgroundHighCps, lo = v.settings.gammaBackgroundLowCps
        say("all panels: \(fixed(total)) counts/s gamma; fault limits \(lo > 0 ? "low \(lo)" : "low off"), \(hi > 0 ? "high \(hi)" : "high off") counts/s")
        for l in windowsTable(v, now: nil, title: "energy windows, empty-lane counts/s (the long average the spectral test compares with)") { say(l) }
        if v.settings.spectralWindowCount >= 3 {
            let sp = v.spectral
            var bins = 0
            for i in 0..<SpectralState.binCount where sp.binLoads[i] >= SpectralState.binLoadsMin { bins += 1 }
            say("spectral test: \(sp.loads) NORM loads learned (ready at \(NormLearner.loadsMin)), \(bins) of \(SpectralState.binCount) shape bins in use; \(v.spectraTrusted ? (sp.isReady ? "on" : "not ready yet: excesses are judged by the two-window rule alone") : "OFF: a panel's windows or split are not confirmed (the log names it)")")
            let names = hub.profile.checkSourceNames
            say(names.isEmpty ? "directed test: off (no detection.checkSourceShapes; sourcecheck measures them)"
                : "directed test: \(names.joined(separator: ", ")) over the NORM shapes, alarm beyond \(fixed(Double(v.settings.spectralDirectedSigmaQ8) / 256, 2)) sd")
            if !names.isEmpty {
                say(v.settings.spectralMatchedSigmaQ8 > 0
                    ? "matched test: \(names.joined(separator: ", ")) against the empty lane's shape, candidates beyond \(fixed(Double(v.settings.spectralMatchedSigmaQ8) / 256, 2)) sd (below the gross threshold too), alarm when the directed test finds the source beyond \(fixed(Double(v.settings.spectralMatchedDirectedSigmaQ8) / 256, 2)) sd"
                        + (v.settings.spectralMatchedMisfitSigmaQ8 >= 0 ? ", in units of a misfit the NORM shapes leave beyond \(fixed(Double(v.settings.spectralMatchedMisfitSigmaQ8) / 256, 2)) sd" : "")
                    : "matched test: off (detection.matchedSigma)")
            }
        }
        let sh = v.shielding
        say(sh.isReady
            ? "vehicle shielding: the low window takes \(fixed(Double(sh.kappaQ16) / 65_536, 3)) of the high window's shielding, vehicle to vehicle sd \(fixed(Double(sh.kappaSpreadQ16) / 65_536, 3)) (from \(sh.spreadOccupancies) parked or slow vehicles; under 0.020 counts as none) (learned from \(sh.learned) clean vehicles; 1.000 would keep the spectrum, sd 0 that they shade alike)"
                + (v.shieldingNormLikeLeftOut > 0 ? "; \(v.shieldingNormLikeLeftOut) NORM-like vehicles under the threshold left out since start" : "")
            : "vehicle shielding: learning (\(sh.learned) clean vehicles of \(ShieldingLearner.loadsMin)); until then a vehicle's shadow is taken to keep the spectrum")
        if v.settings.spectralWindowCount >= 3 {
            let k = v.settings.spectralWindowCount
            let each = (0..<k).map { sh.isReady(window: $0) ? fixed(Double(sh.kappaQ16(window: $0)) / 65_536, 2) : "-" }
            say("shielding per window (the window's fall over the high window's; - not learned yet, taken as 1): \(each.joined(separator: " "))")
        }
        let drop = v.settings.backgroundHoldDropQ16 * 100 / 65_536
        let holding = b.slowHeldRun == 0 ? ""
            : b.slowHeldRun > v.settings.backgroundHoldMaxSamples
            ? ", a dip has lasted \(fixed(Double(b.slowHeldRun) * Double(v.settings.sampleIntervalUs) / 1e6, 0)) s, longer than the hold: learned, the open lane's level kept for an hour (it comes back with the next occupancy or when the lane does)"
            : b.samplesLearned < v.settings.backgroundWarmupSamples
            ? ", the warm-up waits (the samples lie \(drop) % or more below its running mean: a vehicle waiting by the portal?)"
            : ", holding now (the fast average is \(drop) % or more below it: a vehicle waiting by the portal?)"
        say("slow average held \(b.slowHeldTotal) samples in all\(holding); \(b.gatedTotal) samples kept out of learning (far above the background: a source nearby, or a bad reading)")
    }

    func thresholds() {
        let v = view
        let s = v.settings
        let windowS = Double(s.gammaWindowSamples) * Double(s.sampleIntervalUs) / 1e6
        say("gamma:   alarm above background + \(Tunable.named("gammaSigma")!.text(hub.values)) sigma; window \(fixed(windowS)) s until the speed is known, then the time to cross \(fixed(Double(s.viewLengthMm) / 1000)) m (at least \(fixed(Double(s.gammaWindowSamplesMin) * Double(s.sampleIntervalUs) / 1e6)) s)")
        say("         dwell integration \(s.dwellIntegration ? "on" : "off"), background uncertainty \(s.backgroundUncertainty ? "counted" : "ignored")")
        let learner = v.normLearner
        let rule = NormRule.current(s, learner: learner, backgroundLowShareQ16: v.background.lowShareQ16(mask: UInt32((1 << panelCount) - 1), panelCount: panelCount),
                                    spectraTrusted: v.spectraTrusted)
        func share(_ q: Int64) -> String { fixed(Double(q) / 65_536, 2) }
        if !v.spectraTrusted {
            say("NORM:    discrimination OFF: a panel has not confirmed the window split the profile asks for (panels.windowSplitKev; the log names it); every excess alarms")
        } else if rule.source == .profile {
            say("NORM:    discrimination \(rule.on ? "on" : "OFF") (set in the profile): an excess with a low-energy share under \(share(rule.lowShareMinQ16)) is NORM-like; any excess above \(Tunable.named("gammaCeilingSigma")!.text(hub.values)) sigma alarms")
        } else {
            let from = rule.source == .learned ? "the 90th percentile of the lane's own NORM loads" : "cold start: the background's own share, until \(NormLearner.loadsMin) loads are learned"
            say("NORM:    from traffic: NORM share \(share(rule.shareMaxQ16)) (\(from)); check source \(s.checkSourceLowShareQ16 > 0 ? share(s.checkSourceLowShareQ16) : "not measured")")
            let spectralBehind = rule.tooClose && s.spectralWindowCount >= 3 && s.spectralThreatShapeCount > 0
            let state = rule.on ? "on: an excess with a low-energy share under \(share(rule.lowShareMinQ16)) is NORM-like"
                : spectralBehind ? "two windows too close (the check source is not at least \(share(NormRule.separationMinQ16)) above the NORM share): once the spectral test has learned, an excess with a low-energy share under \(share(rule.lowShareMinQ16)) is NORM-like unless the spectral tests find a check source's shape in it; until then every excess alarms"
                : "OFF: every excess alarms (the check source is not at least \(share(NormRule.separationMinQ16)) above the NORM share)"
            say("         discrimination \(state); any excess above \(Tunable.named("gammaCeilingSigma")!.text(hub.values)) sigma alarms")
        }
        say("         learned: \(learner.learned) loads over the threshold (\(learner.held) held); their low-energy shares: median \(learner.quantileQ16(perMille: 500).map(share) ?? "-"), 90th percentile \(learner.quantileQ16(perMille: 900).map(share) ?? "-")")
        say("neutron: alarm above background + \(Tunable.named("neutronSigma")!.text(hub.values)) sigma (+ \(fixed(Double(s.neutronSigmaQ8 * s.neutronSigmaQ8 - 65_536) / 6 / 65_536, 1)) counts for Poisson skew) and at least \(s.neutronExcessMin) counts over \(fixed(Double(s.neutronWindowSamples) * Double(s.sampleIntervalUs) / 1e6)) s; \(s.neutronBurstClip > 0 ? "a panel's counts per sample taken up to its background + \(s.neutronBurstClip) (ship-effect bursts)" : "no burst clipping")")
        say("hold-in: \(fixed(Double(s.holdInUs) / 1e6)) s; siren \(fixed(Double(v.sirenUs) / 1e6)) s; alarm lights held \(fixed(Double(v.alarmLightHoldUs) / 1e6)) s")
        say("now, for a \(fixed(windowS)) s window (counts/s):")
        var groups: [(String, UInt32)] = [("all panels", UInt32((1 << panelCount) - 1))]
        for (name, pillar) in [("pillar A", UInt8(0)), ("pillar B", UInt8(1))] {
            var m: UInt32 = 0
            for p in 0..<panelCount where s.pillarOfPanel[p] == pillar { m |= 1 << UInt32(p) }
            if m != 0 && m != groups[0].1 { groups.append((name, m)) }
        }
        for (name, mask) in groups {
            let bg = bgCps(v.background.gammaSumQ16(mask: mask, panelCount: panelCount))
            let nb = bgCps(v.background.neutronSumQ16(mask: mask, panelCount: panelCount))
            say("  \(pad(name, 11)) gamma background \(lpad(fixed(bg), 8)), threshold \(lpad(fixed(thresholdCps(bg, sigmaQ8: s.gammaSigmaQ8)), 8)), ceiling \(lpad(fixed(thresholdCps(bg, sigmaQ8: s.gammaCeilingSigmaQ8)), 8)); neutron background \(fixed(nb, 2)), threshold \(fixed(thresholdCps(nb, sigmaQ8: s.neutronSigmaQ8), 2))")
        }
    }

    func configShow() {
        let p = hub.profile
        say("board profile \(p.file): board \(p.board), lane \(p.site)/\(p.laneID)")
        say("panels: \(panelCount) (\(zip(p.panelLabels, p.unitIDs).map { "\($0) unit \($1)" }.joined(separator: ", "))), register map \(p.registerMap.name)")
        switch p.transport {
        case let .tcp(host, port): say("modbus: TCP \(host):\(port), response timeout \(p.timeouts.responseUs / 1000) ms, byte timeout \(p.timeouts.byteUs / 1000) ms")
        case let .rtu(device, baud, parity, dataBits, stopBits):
            say("modbus: RTU \(device) \(baud) \(dataBits)\(Character(Unicode.Scalar(parity)))\(stopBits), response timeout \(p.timeouts.responseUs / 1000) ms, byte timeout \(p.timeouts.byteUs / 1000) ms")
        }
        switch p.gpio {
        case let .sim(socket): say("gpio: simulator socket \(socket)")
        case let .gpiod(c): say("gpio: \(c.chip), beams on \(c.beams.map(\.description).joined(separator: " and "))")
        }
        say("tick: \(p.engine.sampleIntervalUs / 1000) ms; beam spacing \(fixed(Double(p.engine.beamSpacingMm) / 1000, 2)) m")
        say("journal: \(p.journalDirectory ?? "none"); uplink: \(p.uplink.map { "\($0.host):\($0.port)" } ?? "none"); vm250: \(p.vm250Port.map(String.init) ?? "off")")
        say("settings a technician may change ('set KEY VALUE'; * changed here, not in the file):")
        let disk = TunableValues(p)
        let running = hub.values
        for t in Tunable.all {
            let changed = t.get(disk) != t.get(running)
            say("  \(changed ? "*" : " ") \(pad(t.path, 34)) \(pad(t.text(running), 8)) \(pad(t.unit, 9)) \(t.rangeText)\(changed ? "  (file: \(t.text(disk)))" : "")")
        }
    }

    func configDiff() {
        let p = hub.profile
        let onDisk: BoardProfile
        do { onDisk = try BoardProfile.load(path: p.file) } catch {
            fail("config diff: the profile on disk does not load: \(error)")
            return
        }
        if onDisk.hash != p.hash {
            say("\(p.file) has changed on disk since the agent started (restart to use changes other than the settings below)")
        }
        let disk = TunableValues(onDisk)
        let running = hub.values
        var n = 0
        for t in Tunable.all where t.get(disk) != t.get(running) {
            say("\(t.path): running \(t.text(running)), file \(t.text(disk))")
            n += 1
        }
        say(n == 0 ? "running settings match \(p.file)" : "\(n) setting\(n == 1 ? "" : "s") differ\(n == 1 ? "s" : ""); 'save' writes the running values into the file")
    }

    func beams() {
        let v = view
        let names = ["entry", "exit"]
        for b in 0..<2 {
            let since = v.beamChanges[b] > 0 ? v.nowUs - v.beamChangedUs[b] : v.nowUs - v.originUs
            say("beam \(b) (\(names[b])): \(v.beamBlocked[b] ? "BLOCKED" : "clear") for \(duration(since))\(v.beamChanges[b] == 0 ? " (no edge since start)" : ""), \(v.beamChanges[b]) changes")
        }
        say("last speed: " + (v.lastDecision.map { d in
            d.speedMmPerS.map { "\(fixed(Double($0) / 1000, 2)) m/s (occupancy \(d.occupancy))" } ?? "not measured for occupancy \(d.occupancy)"
        } ?? "no occupancy decided yet"))
        if v.edgesShown > 0 {
            say("recent edges:")
            for i in 0..<v.edgesShown {
                let e = v.edge(i)
                say("  \(lpad(fixed(Double(e.tUs - v.nowUs) / 1e6, 2), 9)) s  beam \(e.beam) \(e.blocked ? "blocked" : "clear")")
            }
        }
        let limit = hub.profile.console.beamStuckAfterUs
        var stuck: [String] = []
        for b in 0..<2 where v.beamBlocked[b] && v.nowUs - v.beamChangedUs[b] > limit {
            stuck.append("beam \(b) blocked for \(duration(v.nowUs - v.beamChangedUs[b])) (over \(limit / 1_000_000) s): check for an obstruction, the alignment and the lens")
        }
        if v.beamBlocked[0] != v.beamBlocked[1] && !v.occupied {
            stuck.append("one beam blocked, the other clear, with no occupancy: check the blocked beam")
        }
        say(stuck.isEmpty ? "stuck-beam check: OK" : "stuck-beam check: " + stuck.joined(separator: "; "))
    }

    func panels() {
        var slots = Array(repeating: PanelSlot(), count: panelCount)
        hub.lane.panelSlots(into: &slots)
        let now = MonotonicClock.nowUs()
        let map = hub.profile.registerMap
        for p in 0..<panelCount {
            let s = slots[p]
            let link: String
            if s.sequence == 0 { link = "NEVER ANSWERED" } else if s.consecutiveErrors >= hub.profile.panelSilentAfterPolls { link = "SILENT (\(s.consecutiveErrors) failed polls)" } else { link = "ok" }
            say("panel \(labels[p]) (unit \(hub.profile.unitIDs[p])): link \(link)" + (s.sequence > 0 ? ", last read \((now - s.polledUs) / 1000) ms ago in \(fixed(Double(s.pollDurationUs) / 1000, 1)) ms" : ""))
            if s.sequence > 0 {
                let r = s.reading
                var bits: [String] = []
                bits.append(r.status & 1 != 0 ? "gamma ok" : "GAMMA FAULT")
                bits.append(r.status & 2 != 0 ? "neutron ok" : "NEUTRON FAULT")
                bits.append(r.status & 4 != 0 ? "HV ok" : "HV FAULT")
                if r.status & map.tamperMask != 0 { bits.append("TAMPER (door open)") }
                if r.status & map.statusFaultMask != 0 { bits.append("FAULT BITS 0x\(String(r.status & map.statusFaultMask, radix: 16, uppercase: true))\(map.statusFaultMask == 0x10 ? " (temperature)" : "")") }
                say("  status 0x\(String(r.status, radix: 16, uppercase: true)) (\(bits.joined(separator: ", "))); high voltage \(r.highVoltage) V; temperature \(fixed(Double(r.temperatureDeci) / 10)) C; firmware \(r.firmware >> 8).\(r.firmware & 0xFF); panel up \(duration(Int64(r.uptimeMs) * 1000))")
            }
            say("  errors \(s.errors) (timeouts \(s.timeouts), bad CRC \(s.badCRCs), exceptions \(s.exceptions))\(s.lastError.isEmpty ? "" : "; last: \(s.lastError)")")
        }
        let c = hub.lane.busFigures
        var line = "poll round: last \(fixed(Double(c.lastRoundUs) / 1000, 1)) ms, longest \(fixed(Double(c.longestRoundUs) / 1000, 1)) ms"
        if let b = hub.profile.busBudget { line += "; RS-485 budget \(fixed(b.pollUs / 1000, 1)) ms of the \(b.tickUs / 1000) ms tick" }
        say(line)
    }

    func alarms() {
        let v = view
        guard v.alarmCount > 0 else { say("no alarms since start"); return }
        say("  #   when (ago)   occupancy  kind             state")
        for i in 0..<v.alarmCount {
            let a = v.alarm(i)
            let kind = [a.gamma ? "gamma" : nil, a.neutron ? "neutron" : nil].compactMap { $0 }.joined(separator: "+")
            let state: String
            switch a.state {
            case .active: state = "ACTIVE (siren; 'alarms ack' silences)"
            case .silenced: state = "silenced (lights on; 'alarms ack' again clears)"
            case .cleared: state = "cleared"
            }
            say("\(lpad(String(a.number), 3))  \(lpad(duration(v.nowUs - a.tUs), 11))  \(lpad(String(a.occupancy), 9))  \(pad(kind, 15))  \(state)")
        }
        if v.alarmsTotal > v.alarmCount { say("(\(v.alarmsTotal - v.alarmCount) older alarms not shown; the records hold them all)") }
    }

    func acknowledge(_ a: [String]) {
        let v = view
        var number: Int? = nil
        if let s = a.first {
            guard let n = Array(s.utf8).withUnsafeBufferPointer({ ConsoleNumber.integer($0, min: 1, max: 1_000_000_000) }) else {
                fail("alarms ack: expected an alarm number (1, 2, ... as 'alarms' lists them), found '\(s)'")
                return
            }
            guard (0..<v.alarmCount).contains(where: { v.alarm($0).number == Int(n) }) else {
                fail("alarms ack: no recent alarm #\(n); 'alarms' lists them")
                return
            }
            number = Int(n)
        }
        let targets = (0..<v.alarmCount).map { v.alarm($0) }.filter { (number == nil || $0.number == number) && $0.state != .cleared }
        guard !targets.isEmpty else { say("nothing to acknowledge: \(number.map { "alarm #\($0) is" } ?? "every alarm is") already cleared"); return }
        let anyActive = targets.contains { $0.state == .active }
        hub.requestAndWait(.acknowledge(number: number))
        let what = targets.map { "#\($0.number)" }.joined(separator: ", ")
        hub.audit(user: user!, action: "alarms ack \(what)", old: anyActive ? "active" : "silenced", new: anyActive ? "silenced" : "cleared")
        say(anyActive ? "alarm \(what) silenced (siren off); acknowledge again to clear the lights" : "alarm \(what) cleared (lights off)")
    }

    func resetAlarms() {
        let v = view
        let open = (0..<v.alarmCount).map { v.alarm($0) }.filter { $0.state != .cleared }
        hub.requestAndWait(.resetAlarms)
        hub.audit(user: user!, action: "alarms reset", old: "\(open.count) not cleared", new: "all cleared")
        say(open.isEmpty ? "no alarm was waiting; outputs reset" : "\(open.count) alarm\(open.count == 1 ? "" : "s") cleared")
    }

    /// Refuses maintenance while a vehicle is in the lane or an alarm sounds.
    func laneFreeForTests(_ what: String) -> Bool {
        let v = view
        if v.occupied { fail("\(what): a vehicle is in the lane; wait until it is empty"); return false }
        if v.gammaAlarmActive || v.neutronAlarmActive { fail("\(what): an alarm is active"); return false }
        if let other = hub.beginProcedure("\(user ?? "?") on \(place)") {
            fail("\(what): \(other) is running a test; wait for it to finish")
            return false
        }
        return true
    }

    func testOutputs(_ which: String) {
        let outputs: [LaneOutput]
        switch which {
        case "lights": outputs = [.gammaLight, .neutronLight, .faultLight]
        case "siren": outputs = [.siren]
        case "camera": outputs = [.camera]
        case "outputs": outputs = LaneOutput.allCases.filter { $0 != .heartbeat }  // the heartbeat keeps toggling: the watchdog relay must not drop
        default: fail("test: expected lights, siren, camera or outputs, found '\(which)'"); return
        }
        guard laneFreeForTests("test \(which)") else { return }
        defer { hub.endProcedure() }
        hub.audit(user: user!, action: "test \(which)")
        say("testing \(outputs.map(\.name).joined(separator: ", ")) one at a time (Ctrl-C stops)")
        var interrupted = false
        for o in outputs {
            let now = MonotonicClock.nowUs()
            hub.request(.forceOutput(o, on: true, untilUs: now + 1_500_000))
            sayRaw("  \(pad(o.name, 13)) ON ... ")
            if pause(1_500) { interrupted = true; break }
            hub.request(.forceOutput(o, on: false, untilUs: MonotonicClock.nowUs() + 500_000))
            say("off")
            if pause(500) { interrupted = true; break }
            if view.gammaAlarmActive || view.neutronAlarmActive { say(""); say("a real alarm started: test ended"); interrupted = true; break }
        }
        hub.requestAndWait(.releaseOutputs)
        say(interrupted ? "test stopped; outputs restored to the lane's state" : "done; outputs restored to the lane's state")
    }

    func selfTest() {
        guard laneFreeForTests("selftest") else { return }
        defer { hub.endProcedure() }
        let map = hub.profile.registerMap
        hub.request(.maintenance(untilUs: MonotonicClock.nowUs() + 6_000_000))
        _ = pause(300, interruptible: false)
        let before = view
        say("self-test: writing 0x\(String(map.selfTestValue, radix: 16, uppercase: true)) to register \(map.commandRegister) of each panel")
        var written = Array(repeating: false, count: panelCount)
        for p in 0..<panelCount {
            switch hub.lane.busRequest(.write(unit: hub.profile.unitIDs[p], address: map.commandRegister, value: map.selfTestValue)) {
            case .written: written[p] = true
            case let .failed(why): say("  panel \(labels[p]): the command was not accepted: \(why)")
            default: break
            }
        }
        // The pulser runs 2 s: measure the last second of it.
        _ = pause(1_600, interruptible: false)
        let after = view
        hub.request(.maintenance(untilUs: MonotonicClock.nowUs() + 2_000_000))
        var failed: [String] = []
        for p in 0..<panelCount {
            let rise = cps(after.gamma1s[p], after.window1sUs) - cps(before.gamma1s[p], before.window1sUs)
            let ok = written[p] && rise >= 700 && rise <= 1_300
            if !ok { failed.append(labels[p]) }
            say("  panel \(pad(labels[p], 4)) \(ok ? "PASS" : "FAIL"): gamma \(fixed(cps(before.gamma1s[p], before.window1sUs), 0)) -> \(fixed(cps(after.gamma1s[p], after.window1sUs), 0)) counts/s, rise \(fixed(rise, 0)) (expected 700 to 1300)")
        }
        if after.occupancyCount != before.occupancyCount { say("  a vehicle arrived during the test: the result is void, run it again"); failed.append("void") }
        let verdict = failed.isEmpty ? "pass \(panelCount)/\(panelCount)" : "FAIL \(failed.joined(separator: ","))"
        hub.audit(user: user!, action: "selftest", new: verdict)
        say("self-test \(failed.isEmpty ? "PASSED" : "FAILED"): \(verdict)")
    }

    func sourceCheck(_ a: [String]) {
        var chosen: [Int] = Array(0..<panelCount)
        if let w = a.first, w != "all" {
            guard let i = labels.firstIndex(of: w) else {
                fail("sourcecheck: no panel '\(w)'; panels are \(labels.joined(separator: ", ")) (or all)")
                return
            }
            chosen = [i]
        }
        guard laneFreeForTests("sourcecheck") else { return }
        defer {
            hub.request(.maintenance(untilUs: MonotonicClock.nowUs() + 3_000_000))
            hub.endProcedure()
        }
        let cfg = hub.profile.console
        let measureS = Int(cfg.checkSourceMeasureUs / 1_000_000)
        say("check source: \(chosen.count) panel\(chosen.count == 1 ? "" : "s"); pass at \(cfg.checkSourceMinNetCps) counts/s above background, measured over \(measureS) s; Ctrl-C aborts")
        // The passing panels' net counts, all and in the low window: the check source's
        // low-energy share, which the NORM rule from traffic needs (detection.checkSourceLowShare).
        var netAll = 0.0, netLowAll = 0.0
        // Multi-window panels: the passing panels' net counts per window, the source's shape for
        // the directed test (detection.checkSourceShapes).
        let k = settings.spectralWindowCount
        var netWindows = [Double](repeating: 0, count: max(k, 0))
        for p in chosen {
            hub.request(.maintenance(untilUs: MonotonicClock.nowUs() + 600_000_000))
            let b = view.background
            let fast = b.gammaQ16[p] >= b.gammaSlowQ16[p]
            let bg = bgCps(fast ? b.gammaQ16[p] : b.gammaSlowQ16[p])
            let bgLow = bgCps(fast ? b.gammaLowQ16[p] : b.gammaLowSlowQ16[p])
            guard ask("Place the check source against panel \(labels[p]), then press Enter: ") != nil else {
                say("source check aborted; nothing recorded"); cancelled()
                return
            }
            say("  measuring panel \(labels[p]) for \(measureS) s ...")
            _ = pause(1_200, interruptible: false)  // the window fills with source counts
            var sum = 0.0, sumLow = 0.0, n = 0
            var sumWindows = [Double](repeating: 0, count: netWindows.count)
            let end = MonotonicClock.nowUs() + cfg.checkSourceMeasureUs
            while MonotonicClock.nowUs() < end {
                let v = view
                sum += cps(v.gamma1s[p], v.window1sUs)
                sumLow += cps(v.gammaLow1s[p], v.window1sUs)
                for w in sumWindows.indices { sumWindows[w] += cps(v.windows1s[p * windowCountMax + w], v.window1sUs) }
                n += 1
                if pause(1_000) { say("source check aborted; nothing recorded"); cancelled(); return }
            }
            let gross = n > 0 ? sum / Double(n) : 0
            let net = gross - bg
            let ok = net >= Double(cfg.checkSourceMinNetCps)
            let netLow = (n > 0 ? sumLow / Double(n) : 0) - bgLow
            var figures = "net \(fixed(net, 0)) counts/s (gross \(fixed(gross, 0)), background \(fixed(bg, 0)), min \(cfg.checkSourceMinNetCps))"
            if ok {
                figures += ", low-energy share \(fixed(min(1, max(0, netLow / net)), 2))"
                netAll += net
                netLowAll += netLow
                let sp = view.spectral
                for w in netWindows.indices { netWindows[w] += (n > 0 ? sumWindows[w] / Double(n) : 0) - bgCps(sp.longQ16[p * windowCountMax + w]) }
            }
            say("  panel \(labels[p]): \(ok ? "PASS" : "FAIL") \(figures)")
            hub.audit(user: user!, action: "sourcecheck \(labels[p])", new: (ok ? "pass " : "FAIL ") + figures)
            _ = ask("Remove the check source, then press Enter: ")
        }
        say("source check done; background learning resumes in 3 s")
        guard netAll > 0 else { return }
        sayCheckSourceShape(netWindows)
        // With a Cs-137 check source and the panels at the profile's window split, the share is
        // what the NORM rule from the lane's traffic is told the threat side looks like.
        let share = min(1, max(0, netLowAll / netAll))
        let recorded = settings.checkSourceLowShareQ16
        say("check source low-energy share over the passing panels: \(fixed(share, 2)); detection.checkSourceLowShare is "
            + (recorded > 0 ? fixed(Double(recorded) / 65536, 2) : "not measured (0)"))
        guard settings.normFromTraffic else {
            say("(detection.normFromTraffic is off: the share is used only when the NORM rule comes from the lane's traffic)")
            return
        }
        say("record it as the lane's check-source share, if the source is Cs-137 and the panels hold the profile's window split:")
        set("checkSourceLowShare", fixed(share, 2))
    }

    /// The check source's shape over the K windows (its net counts' share per window, the passing
    /// panels together), as the profile's `detection.checkSourceShapes` takes it.
    func sayCheckSourceShape(_ netWindows: [Double]) {
        let total = netWindows.reduce(0, +)
        guard netWindows.count >= 3, total > 0 else { return }
        let shares = netWindows.map { abs($0 / total) < 0.0005 ? "0.000" : fixed($0 / total, 3) }.joined(separator: ", ")
        say("check source shape over the \(netWindows.count) windows (share of its net counts per window): \(shares)")
        say("for the directed test, add it to the board profile (name the source), then restart the agent:")
        say("  detection:")
        say("    checkSourceShapes:")
        say("      - {source: Cs-137, shares: [\(shares)]}")
    }

    func parseNumber(_ s: String, _ what: String, _ range: ClosedRange<Int64>, hex: Bool = false) -> Int64? {
        if let v = Array(s.utf8).withUnsafeBufferPointer({ ConsoleNumber.integer($0, min: range.lowerBound, max: range.upperBound, hex: hex) }) { return v }
        if Array(s.utf8).withUnsafeBufferPointer({ ConsoleNumber.integer($0, min: Int64.min, max: Int64.max, hex: hex) }) != nil {
            fail("\(what) \(s) is out of range \(range.lowerBound) to \(range.upperBound)")
        } else {
            fail("\(what): expected a whole number\(hex ? " (decimal or 0x hex)" : "") from \(range.lowerBound) to \(range.upperBound), found '\(s)'")
        }
        return nil
    }

    func modbusRead(_ a: [String]) {
        guard let unit = parseNumber(a[0], "modbus read: UNIT", 1...247),
              let addr = parseNumber(a[1], "modbus read: ADDR", 0...65535, hex: true),
              let count = parseNumber(a[2], "modbus read: COUNT", 1...125)
        else { return }
        let kind = a.count > 3 ? a[3] : "input"
        guard kind == "input" || kind == "holding" else { fail("modbus read: expected input or holding, found '\(kind)'"); return }
        guard addr + count <= 65536 else { fail("modbus read: ADDR + COUNT passes the end of the register space (65536)"); return }
        hub.audit(user: user!, action: "modbus read \(unit) \(addr) \(count) \(kind)")
        let r = hub.lane.busRequest(kind == "input"
            ? .readInput(unit: Int(unit), address: Int(addr), count: Int(count))
            : .readHolding(unit: Int(unit), address: Int(addr), count: Int(count)))
        switch r {
        case let .registers(regs):
            say("unit \(unit), \(kind) registers \(addr) to \(addr + count - 1):")
            for (i, v) in regs.enumerated() {
                say("  \(lpad(String(Int(addr) + i), 5))  0x\(lpad(String(v, radix: 16, uppercase: true), 4).replacingOccurrences(of: " ", with: "0"))  \(lpad(String(v), 5))")
            }
        case let .failed(why): fail("modbus read: \(why)")
        default: fail("modbus read: unexpected reply")
        }
    }

    func modbusScan(_ a: [String]) {
        var first: Int64 = 1, last: Int64 = 16
        if a.count == 1 { fail("modbus scan: give both FIRST and LAST, or neither"); return }
        if a.count == 2 {
            guard let f = parseNumber(a[0], "modbus scan: FIRST", 1...247), let l = parseNumber(a[1], "modbus scan: LAST", 1...247) else { return }
            guard l >= f, l - f < 32 else { fail("modbus scan: LAST must be FIRST to FIRST + 31 (at most 32 units per scan)"); return }
            first = f; last = l
        }
        hub.audit(user: user!, action: "modbus scan \(first)-\(last)")
        say("scanning units \(first) to \(last) (report server id; Ctrl-C stops) ...")
        var silent: [Int64] = []
        for u in first...last {
            switch hub.lane.busRequest(.identify(unit: Int(u))) {
            case let .identity(bytes):
                // Report server id: the id byte, the run indicator (0xFF: running), then text.
                let run = bytes.count > 1 ? (bytes[1] == 0xFF ? "running" : "stopped") : "?"
                let text = String(decoding: bytes.dropFirst(2).map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
                    + " (server id \(bytes.first ?? 0), \(run))"
                let known = hub.profile.unitIDs.firstIndex(of: Int(u)).map { " (panel \(labels[$0]))" } ?? " (not in the board profile)"
                say("  unit \(lpad(String(u), 3)): \(text)\(known)")
            case let .failed(why):
                if why.lowercased().contains("timed out") || why.lowercased().contains("timeout") { silent.append(u) } else { say("  unit \(lpad(String(u), 3)): \(why)") }
            default: break
            }
            if pause(0) { say("scan stopped"); break }
            flush()
        }
        if !silent.isEmpty { say("no answer from \(silent.count) unit\(silent.count == 1 ? "" : "s")") }
    }

    func journal() {
        guard let w = hub.journal else { say("no journal: this board keeps no records (journal.directory)"); return }
        let j = w.journal
        let s = j.stats
        say("journal \(j.directory): epoch \(epochHex(j.epoch)), \(s.bytes) bytes in \(s.segments) segments (limit \(j.bytesMax >> 20) MiB)")
        say("storage: " + (j.storageProblem.map { "FAULT: \($0)" } ?? "ok") + (s.reserveReleased > 0 ? "; the reserve was given to decisions and alarms \(s.reserveReleased) times" : ""))
        say("records: next sequence \(j.nextSequence), stored by the alarm station through \(j.ackedThrough)")
        say("queue from the tick: \(w.queue.pushed) queued, \(w.queue.dropped) dropped; \(s.recordsLost) lost to storage failures; \(s.gapRecords) gap records told the alarm station; \(s.syncs) syncs")
        say("evicted when full: \(s.samplesEvicted) sample records (never alarms or decisions), \(s.samplesRefused) refused")
        say("at start: torn tail of \(s.tornBytesTruncated) bytes cut, \(s.corruptFramesSkipped) corrupt stretches skipped"
            + (s.ackRefusedReason.map { "; acknowledgement refused: \($0)" } ?? "") + (s.segmentsSetAside > 0 ? "; \(s.segmentsSetAside) segments set aside in damaged/" : ""))
    }

    func ocrStatus() {
        guard let o = hub.ocr else { say("no OCR input configured (ocr section of the board profile)"); return }
        let st = o.stats
        let c = o.config
        let how: String
        switch c.endpoint {
        case .connect: how = "the agent connects to \(c.place)"
        case .listen: how = "the OCR system connects to \(c.place)"
        }
        let format: String
        switch c.format.kind {
        case .line: format = "a line per read (ocr.pattern)"
        case let .xml(root, _, _, _, _): format = "an XML document <\(root)> per read"
        }
        say("OCR: \(how); \(format); read times \(c.format.time.rawValue); a read up to \(fixed(Double(c.matching.lateUs) / 1e6, 1)) s after an occupancy's end still belongs to it")
        say("state: \(st.connected > 0 ? "connected (\(st.connected))" : "NOT CONNECTED")" + (st.lastError.isEmpty ? "" : "; last error: \(st.lastError)"))
        say("connects \(st.connects), disconnects \(st.disconnects), refused \(st.clientsRefused); messages \(st.messages): \(st.readsQueued) reads, \(st.emptyReads) with nothing read, \(st.malformed) malformed, \(o.dropped) dropped (queue full), \(st.clockDisagreements) with a read time off the lane's clock")
        if !st.lastMalformed.isEmpty { say("last malformed message: \(st.lastMalformed)") }
        let v = view
        say("matched: \(v.ocrAttached) to the truck in the lane, \(v.ocrAmended) late (decision amended), \(v.ocrUnmatched) unmatched, \(v.ocrDuplicates) duplicates")
        let n = min(v.ocrCount, LaneView.ocrRecentMax)
        for k in 0..<n {
            let r = v.ocrRecent[(v.ocrCount - n + k) % LaneView.ocrRecentMax]
            let ago = duration(v.nowUs - r.atUs)
            switch r.outcome {
            case .attached: say("  \(ago) ago: occupancy \(r.occupancy): \(OCRJSON.summary(r.reads))")
            case .amended: say("  \(ago) ago: occupancy \(r.occupancy) (late, amended): \(OCRJSON.summary(r.reads))")
            case .unmatched: say("  \(ago) ago: UNMATCHED: \(OCRJSON.summary(r.reads))")
            case .duplicate: say("  \(ago) ago: occupancy \(r.occupancy): a duplicate of what it had")
            }
        }
    }

    func uplinkStatus() {
        guard let u = hub.uplink else { say("no uplink configured (uplink section of the board profile)"); return }
        let s = u.stats
        let c = u.config
        say("broker \(c.host):\(c.port)\(c.caFile != nil ? " (TLS)" : ""), client id \(c.clientID), topics \(c.topicPrefix)/\(c.site)/\(c.lane)/records/<kind>")
        say("state: \(s.connected ? "connected" : "NOT CONNECTED")\(s.lastError.isEmpty ? "" : "; last error: \(s.lastError)")")
        say("connects \(s.connects), disconnects \(s.disconnects); messages published \(s.messagesPublished), taken by the broker \(s.messagesAcknowledged)")
        say("alarm station: stored through record \(u.journal.ackedThrough) (\(s.stationAcks) acknowledgements; \(s.stationAcksRefused) refused; \(s.stationAcksOtherEpoch) for another epoch); \(s.rangesResent) ranges sent again at its request, \(s.tailResends) re-sends after \(Int(c.resendAfterS)) s of silence, \(s.notInJournal) records asked for but no longer held")
        say("waiting in the journal: \(u.journal.nextSequence - 1 - min(u.journal.nextSequence - 1, u.journal.ackedThrough)) records")
    }

    func stats() {
        let v = view
        say("tick: \(v.ticks) ticks, \(v.missedTicks) missed; lateness p50 \(v.latenessP50Us) us, p99 \(v.latenessP99Us) us, p99.9 \(v.latenessP999Us) us, max \(v.maxLatenessUs) us")
        say("tick work: p50 \(v.durationP50Us) us, p99 \(v.durationP99Us) us, max \(v.durationMaxUs) us")
        say(v.allocationCountedTicks < 0 ? "tick heap allocations: not counted in this build"
            : "tick heap allocations: \(v.tickAllocations) in \(v.allocationCountedTicks) ticks counted since the lane settled (tick \(LaneRunner.allocationWarmupTicks) and the first alarm occupancy)")
        say("beam edges dropped: \(v.edgeDrops); occupancies decided: \(v.decisions)")
        let eq = hub.lane.eventQueueFigures
        say("event queue: \(eq.pushed) pushed, \(eq.dropped) dropped")
        if let w = hub.journal { say("record queue: \(w.queue.pushed) pushed, \(w.queue.dropped) dropped; records lost to storage failures \(w.appendErrors)") }
        if let vm = hub.vm250 { say("vm250 stream: \(vm.dropped) events dropped, \(vm.clientsDropped) slow clients dropped") }
        var slots = Array(repeating: PanelSlot(), count: panelCount)
        hub.lane.panelSlots(into: &slots)
        say("modbus: " + (0..<panelCount).map { "\(labels[$0]) \(slots[$0].errors) errors (\(slots[$0].timeouts) timeouts, \(slots[$0].badCRCs) CRC, \(slots[$0].exceptions) exceptions)" }.joined(separator: "; "))
        let c = hub.lane.busFigures
        say("poll round: last \(c.lastRoundUs) us, longest \(c.longestRoundUs) us; console Modbus requests served \(c.requestsServed)")
        if c.allocationRounds > 0 { say("poll thread heap allocations: \(c.allocations) in \(c.allocationRounds) rounds after the first 50 with every panel answering") }
        let k = hub.countersSnapshot
        say("console: \(k.sessions) sessions (\(k.socketSessionsRefused) socket connections refused: too many), \(k.commands) commands, \(k.commandErrors) refused or failed, \(k.refusedNotLoggedIn) needing a login")
        say("console input: \(k.garbageBytes) non-text bursts, \(k.breaks) breaks, \(k.linesTooLong) over-long lines; output bytes dropped (slow terminal) \(k.outputBytesDropped)")
        say("console to tick: \(v.requestsApplied) requests applied, \(k.requestsDropped) dropped; views skipped by the tick \(v.viewSkips)")
        say("logins: \(hub.auth.failedLogins) failed, \(hub.auth.lockouts) lock-outs; audit records \(k.auditRecords) queued, \(k.auditDropped) dropped")
        if let u = hub.uplink { let s = u.stats; say("uplink: \(s.connects) connects, \(s.disconnects) disconnects, \(s.messagesPublished) published, \(s.messagesAcknowledged) acknowledged") }
        say("log lines: \(hub.logRing.total); resident memory \(residentMemoryBytes() >> 20) MiB")
    }

    func showLog(_ a: [String]) {
        var n: Int64 = 20
        if let s = a.first { guard let v = parseNumber(s, "log: LINES", 1...Int64(LogRing.capacity)) else { return }; n = v }
        let lines = hub.logRing.recent(Int(n))
        if lines.isEmpty { say("(no log lines yet)") }
        for l in lines { say(l) }
    }

    func set(_ key: String, _ value: String) {
        guard let t = Tunable.named(key) else {
            let near = Tunable.all.map(\.key).filter { editDistance($0.lowercased(), key.lowercased()) <= 3 }
            fail("set: no setting '\(key)'\(near.isEmpty ? "" : " (did you mean \(orList(near))?)"); 'config show' lists them")
            return
        }
        let x: Int64
        switch t.parse(value) {
        case let .success(v): x = v
        case let .failure(e): fail("set: \(e.message)"); return
        }
        let old = hub.values
        var new = old
        t.apply(x, to: &new)
        let unlocked = view.unlockedUntilUs > view.nowUs
        if !t.isSafe(x) && !unlocked {
            fail("set: \(t.key) \(t.format(x)) is beyond its safety floor (\(t.safeText)): the lane would be blind or blunted; only in maintenance mode ('maintenance on MINUTES')")
            return
        }
        if let problem = new.engine.firstProblem() {
            fail("set: \(t.key) \(t.format(x)) would make the settings inconsistent: \(problem)")
            return
        }
        if t.get(new) == t.get(old) { say("\(t.path) is already \(t.text(old))"); return }
        guard confirm("change \(t.path) from \(t.text(old)) to \(t.text(new))?") else { return }
        hub.values = new
        guard hub.requestAndWait(.settings(new.engine, sirenUs: new.sirenUs, alarmLightHoldUs: new.alarmLightHoldUs)) else {
            hub.values = old
            fail("set: the lane is busy with other console requests; nothing changed, try again")
            return
        }
        hub.audit(user: user!, action: "set \(t.path)", old: t.text(old), new: t.text(new))
        say("\(t.path) = \(t.text(new))\(view.occupied ? " (applies when the lane is next empty)" : ""); not yet saved to \(hub.profile.file) ('save')")
    }

    func maintenance(_ a: [String]) {
        let v = view
        let now = v.nowUs
        if a.isEmpty {
            if v.unlockedUntilUs > now {
                let unsafe = Tunable.unsafe(hub.values)
                say("maintenance mode: on for \(duration(v.unlockedUntilUs - now)) more; beyond their floors now: " + (unsafe.isEmpty ? "none" : unsafe.map { "\($0.key) \($0.text(hub.values)) (floor \($0.safeText))" }.joined(separator: ", ")))
            } else {
                say("maintenance mode: off (detection settings are held within their safety floors)")
            }
            return
        }
        switch (a[0], a.count) {
        case ("on", 2):
            guard let m = Int(a[1]), (1...120).contains(m) else { fail("maintenance on: MINUTES must be 1 to 120, found '\(a[1])'"); return }
            guard confirm("enter maintenance mode for \(m) minutes? detection settings may then pass their safety floors; the fault lamp stays lit") else { return }
            guard hub.requestAndWait(.unlock(untilUs: now + Int64(m) * 60_000_000, fallback: TunableValues(hub.profile))) else {
                fail("maintenance: the lane is busy with other console requests; nothing changed, try again"); return
            }
            hub.audit(user: user!, action: "maintenance mode on", new: "\(m) min")
            say("maintenance mode on for \(m) minutes: 'set' may pass the safety floors; 'maintenance off' ends it")
        case ("off", 1):
            guard v.unlockedUntilUs > now else { say("maintenance mode is not on"); return }
            guard hub.requestAndWait(.unlock(untilUs: now, fallback: TunableValues(hub.profile))) else {
                fail("maintenance: the lane is busy with other console requests; nothing changed, try again"); return
            }
            hub.audit(user: user!, action: "maintenance mode off")
            say("maintenance mode ends: settings beyond their floors go back to the profile's")
        default:
            fail("usage: maintenance [on MINUTES|off]")
        }
    }

    func save() {
        let file = hub.profile.file
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            fail("save: cannot read \(file)")
            return
        }
        let running = hub.values
        let onDisk: TunableValues
        do { onDisk = TunableValues(try BoardProfile.parse(text, file: file, mapDirectory: ((file as NSString).deletingLastPathComponent) + "/panels")) } catch {
            fail("save: \(file) does not load as it is (\(error)); fix it by hand first")
            return
        }
        let changed = Tunable.all.filter { $0.get(onDisk) != $0.get(running) }
        guard !changed.isEmpty else { say("nothing to save: \(file) already holds the running settings"); return }
        let summary = changed.map { "\($0.key) \($0.text(onDisk)) -> \($0.text(running))" }.joined(separator: ", ")
        let newText: String
        do { newText = try ProfileEditor.rewrite(text, file: file, to: running) } catch {
            fail("save: \(error)")
            return
        }
        guard confirm("write \(summary) into \(file)?") else { return }
        do { try ProfileEditor.save(newText, to: file) } catch {
            fail("save: \(error)")
            return
        }
        hub.audit(user: user!, action: "save \(file)", new: changed.map { "\($0.key)=\($0.text(running))" }.joined(separator: ","))
        say("saved \(changed.count) setting\(changed.count == 1 ? "" : "s") into \(file) (previous file kept as \(file).bak)")
    }

    func login(_ name: String?) {
        if let u = user { say("already logged in as \(u); 'logout' first"); return }
        var n = name
        if n == nil { n = ask("user: ") }
        guard let who = n, !who.isEmpty else { say("login cancelled"); cancelled(); return }
        guard ConsoleUsersFile.isValidName(who) else { fail("login: a user name is 1 to 32 letters, digits, '-' or '_'"); return }
        guard let password = ask("password: ", secret: true) else { say("login cancelled"); cancelled(); return }
        switch hub.auth.check(user: who, password: password) {
        case .ok:
            user = who
            hub.audit(user: who, action: "login on \(place)")
            say("logged in as \(who) (technician)")
        case .wrong:
            hub.audit(user: who, action: "login failed on \(place)")
            fail("login: wrong user name or password")
        case let .lockedOut(left):
            hub.audit(user: who, action: "login refused (locked out) on \(place)")
            fail("login: too many failed logins; locked for \(left) s")
        case let .noUsersFile(why):
            fail("login: \(why)")
        }
    }

    func logout() {
        guard let u = user else { say("not logged in"); return }
        hub.audit(user: u, action: "logout on \(place)")
        user = nil
        say("logged out")
    }

    func exit() {
        if let u = user {
            hub.audit(user: u, action: "logout on \(place)")
            user = nil
        }
        if closesOnExit { say("bye"); closed = true } else { say("logged out; the serial console stays open") }
    }
}
