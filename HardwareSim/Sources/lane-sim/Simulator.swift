// The simulator process's core: plays the world in real time on the monotonic clock, serves
// it over Modbus and the GPIO socket, and writes the lane trace and ground truth it played.

import Foundation
import LaneCore
import LaneHAL
import LaneSimCore
import LaneTrace

struct SimOptions {
    var tcpPort: Int? = 1502
    var rtuLink: String? = nil
    var gpioSocket = "/tmp/lane-sim/gpio.sock"
    var controlSocket: String? = nil
    var tracePath: String? = nil
    var truthPath: String? = nil
    var counterStart: UInt32 = 0
    var uptimeOffsetMs: UInt32 = 0
    var keepRunning = false
    var quiet = false
    /// The simulated gate OCR's TCP port on 127.0.0.1 (nil: none; 0: any free port) and format.
    var ocrPort: Int? = nil
    var ocrFormat = OCRCamera.Format.line
    /// Multi-window panels (reference-panel-mw-v1) with these boundaries; nil: reference-panel-v1.
    var windows: [Double]? = nil
}

final class Simulator: @unchecked Sendable {
    let scenario: Scenario
    let options: SimOptions
    let lock = NSLock()
    private(set) var world: LaneWorld
    let bank: PanelBank
    var gpio: GPIOService!
    var control: ControlService?
    private(set) var originUs: Int64 = 0
    private(set) var truths: [VehicleTruth] = []
    /// Absolute (monotonic) origin of each truth's round.
    private(set) var truthOrigins: [Int64] = []
    var traceSink: LineSink?
    var truthSink: LineSink?
    var onOutput: (String, Bool, Int64) -> Void = { _, _, _ in }
    /// The external watchdog relay a pillar wires to the agent's heartbeat output (docs/BOARDS.md,
    /// "Fail-safe outputs"): energized while the heartbeat toggles at least once a second; when it
    /// stops, the relay drops, and its contacts light the fault lamp and cut the siren whatever
    /// the agent's lines say. Under `lock`.
    var relayLastToggleUs: Int64 = 0
    var relayEnergized = false
    static let relayTimeoutUs: Int64 = 1_000_000
    private(set) var finished = false
    private(set) var rtuDevice: String?
    var rtu: RTUServer?
    var ocr: OCRCamera?

    init(scenario: Scenario, options: SimOptions) {
        self.scenario = scenario
        self.options = options
        world = LaneWorld(scenario: scenario, counterStart: options.counterStart)
        world.uptimeOffsetMs = options.uptimeOffsetMs
        let w = world
        if let b = options.windows { w.useWindows(b) }
        bank = PanelBank(world: w, lock: lock, windows: options.windows)
        bank.log = { [unowned self] in self.log($0) }
    }

    func log(_ s: String) {
        if options.quiet { return }
        // Before the scenario starts (services coming up) the time is 0.
        let t = originUs == 0 ? 0 : Double(MonotonicClock.nowUs() - originUs) / 1e6
        FileHandle.standardError.write(Data(String(format: "[lane-sim %7.2fs] %@\n", t, s).utf8))
    }

    /// The scenario's faults, parsed: (time s, command), starts and ends in time order.
    var scheduled: [(t: Double, command: FaultCommand)] = []

    func start() throws {
        for (i, f) in scenario.faults.enumerated() {
            switch FaultCommand.parse(f.fault.split(separator: " ").map(String.init), panels: world.panelCount) {
            case let .failure(e): throw SimError("scenario faults[\(i)].fault '\(f.fault)': \(e.message)")
            case let .success(c):
                scheduled.append((f.at, c))
                if let d = f.durationS { scheduled.append((f.at + d, c.clearing)) }
            }
        }
        scheduled.sort { $0.t < $1.t }
        let dir = (options.gpioSocket as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if let l = options.rtuLink {
            try? FileManager.default.createDirectory(atPath: (l as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        gpio = try GPIOService(path: options.gpioSocket)
        gpio.onOutput = { [unowned self] name, on in
            if name == "heartbeat" {
                // Toggles every other tick: not logged one by one; the relay says when it changes.
                self.lock.lock()
                self.relayLastToggleUs = MonotonicClock.nowUs()
                let energize = !self.relayEnergized
                self.relayEnergized = true
                self.lock.unlock()
                if energize { self.log("watchdog relay: energized (the agent's heartbeat toggles)") }
                return
            }
            self.log("output \(name) \(on ? "ON" : "off")")
            if name == "camera" && on { self.cameraTriggered() }
            self.onOutput(name, on, MonotonicClock.nowUs())
        }
        if let port = options.ocrPort {
            ocr = try OCRCamera(port: port, format: options.ocrFormat, seed: scenario.seed, log: { [unowned self] in self.log($0) })
            ocr!.start(stop: { false })  // as long as the process: the agent may still be reading
            log("OCR camera on 127.0.0.1:\(ocr!.port) (\(options.ocrFormat.rawValue) messages)")
        }
        if let port = options.tcpPort {
            try ModbusServers.serveTCP(port: port, bank: bank, log: { [unowned self] in self.log($0) })
            log("serving \(world.panelCount) panels over Modbus TCP on 127.0.0.1:\(port) (unit ids 1-\(world.panelCount))")
        }
        if let link = options.rtuLink {
            rtu = try RTUServer(link: link, bank: bank, log: { [unowned self] in self.log($0) })
            rtuDevice = rtu!.device
            log("serving Modbus RTU on \(rtuDevice!) (agent side linked at \(link))")
        }
        log("GPIO service on \(options.gpioSocket)")
        if let c = options.controlSocket {
            control = try ControlService(path: c)
            control?.apply = { [unowned self] in self.apply($0) }
            log("control socket on \(c)")
        }
        if let p = options.tracePath { traceSink = try LineSink(path: p) }
        if let p = options.truthPath { truthSink = try LineSink(path: p) }
        originUs = MonotonicClock.nowUs()
        beginRound(world, originUs: originUs)
        startThread(name: "physics") { [self] in self.loop() }
    }

    /// The agent raised the camera trigger: the OCR reads the vehicle whose front has most
    /// recently reached the portal and is still in it.
    func cameraTriggered() {
        guard let ocr else { return }
        let now = MonotonicClock.nowUs()
        lock.lock()
        var best: Int? = nil
        for (i, t) in truths.enumerated() {
            let o = truthOrigins[i]
            let entry = o + Int64(t.entryS * 1e6), exit = o + Int64(t.exitS * 1e6)
            if entry - 1_000_000 <= now && now <= exit + 1_000_000 && (best == nil || entry > truthOrigins[best!] + Int64(truths[best!].entryS * 1e6)) {
                best = i
            }
        }
        let pick = best.map { (i: $0, truth: truths[$0], previous: $0 > 0 ? truths[$0 - 1] : nil) }
        lock.unlock()
        guard let pick else { log("ocr: camera triggered with no vehicle in the portal: nothing read"); return }
        ocr.trigger(nowUs: now, wallUs: wallClockUs(), index: pick.i, truth: pick.truth, previous: pick.previous)
    }

    /// Applies a fault (the control socket's or the scenario's). Call with `lock` held.
    func apply(_ c: FaultCommand) -> String? {
        switch c {
        case let .panel(targets, action):
            guard options.tcpPort != nil || rtu != nil else { return "no Modbus server runs" }
            bank.apply(targets, action)
        case let .beam(b, f):
            gpio.setFault(beam: b, f, nowUs: MonotonicClock.nowUs())
        case let .rtu(f):
            guard let rtu else { return "no Modbus RTU server runs (--rtu-link)" }
            rtu.fault(f)
        }
        log("fault: \(c)")
        return nil
    }

    func beginRound(_ w: LaneWorld, originUs: Int64) {
        for t in w.truths {
            truths.append(t)
            truthOrigins.append(originUs)
            truthSink?.write(t.json(originUs: originUs))
        }
        truthSink?.flush()
        if let sink = traceSink, truths.count == w.truths.count {
            let h = w.traceHeader()
            sink.write(TraceWriter.header(TraceHeader(sampleIntervalMs: h.sampleIntervalMs, panels: h.panels,
                                                      beamSpacingMm: h.beamSpacingMm, panelLabels: h.panelLabels)))
        }
        log("scenario '\(scenario.name ?? "unnamed")' seed \(w.scenario.seed): \(w.truths.count) vehicles over \(Int(w.durationS)) s")
    }

    /// 10 ms physics steps on the absolute monotonic grid; a counts line every 100 ms.
    func loop() {
        var round = 0
        var roundOrigin = originUs
        var step: Int64 = 0
        var edgeIndex = 0
        var last = (world.gammaTotal, world.gammaLow, world.neutron)
        while true {
            step += 1
            let tUs = roundOrigin + step * 10_000
            MonotonicClock.sleep(untilUs: tUs)
            let t = Double(step) * 0.01
            lock.lock()
            if relayEnergized && MonotonicClock.nowUs() - relayLastToggleUs > Self.relayTimeoutUs {
                relayEnergized = false
                log("watchdog relay: dropped: no heartbeat for \(Self.relayTimeoutUs / 1_000_000) s; its contacts light the fault lamp and cut the siren")
            }
            world.advance(to: t)
            while round == 0, let next = scheduled.first, next.t <= t {
                scheduled.removeFirst()
                if let problem = apply(next.command) { log("scenario fault not applied: \(problem)") }
            }
            while edgeIndex < world.edges.count, world.edges[edgeIndex].t <= t {
                let e = world.edges[edgeIndex]
                edgeIndex += 1
                guard e.t >= 0 else { continue }
                let eUs = roundOrigin + Int64((e.t * 1e6).rounded())
                gpio.edge(beam: e.beam, blocked: e.blocked, tUs: eUs)
                traceSink?.write(TraceWriter.beam(BeamEdge(tUs: eUs, beam: e.beam, blocked: e.blocked)))
            }
            if step % 10 == 0, let sink = traceSink {
                var g = PanelValues(repeating: 0), l = PanelValues(repeating: 0), n = PanelValues(repeating: 0)
                for p in 0..<world.panelCount {
                    g[p] = world.gammaTotal[p] &- last.0[p]
                    l[p] = world.gammaLow[p] &- last.1[p]
                    n[p] = world.neutron[p] &- last.2[p]
                }
                last = (world.gammaTotal, world.gammaLow, world.neutron)
                sink.write(TraceWriter.counts(tUs: tUs, panels: world.panelCount, gamma: g, gammaLow: l, neutron: n))
            }
            let done = t >= world.durationS
            if done && options.keepRunning {
                round += 1
                var next = scenario
                next.seed = scenario.seed &+ UInt64(round)
                let w = LaneWorld(scenario: next)
                w.continueCounters(from: world)
                world = w
                bank.world = w
                roundOrigin = tUs
                step = 0
                edgeIndex = 0
                beginRound(w, originUs: roundOrigin)
            }
            control?.poll(world: world)
            lock.unlock()
            gpio.poll(nowUs: MonotonicClock.nowUs())
            if done && !options.keepRunning {
                traceSink?.close()
                truthSink?.close()
                lock.lock(); finished = true; lock.unlock()
                log("scenario finished")
                return
            }
        }
    }

    /// Writes out what the trace and truth sinks hold (on an early stop).
    func flushFiles() {
        lock.lock(); defer { lock.unlock() }
        traceSink?.flush()
        truthSink?.flush()
    }

    var isFinished: Bool { lock.lock(); defer { lock.unlock() }; return finished }
}
