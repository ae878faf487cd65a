// The poll thread: owns the one libmodbus context and reads every panel once per tick, just
// before the tick, into a snapshot the tick copies without waiting on I/O.

import Foundation
import LaneCore
import LaneHAL

/// One panel's latest poll, as the tick sees it.
public struct PanelSlot: Sendable {
    public var reading = PanelReading()
    /// Increments with every successful poll (0: never read).
    public var sequence: UInt64 = 0
    public var polledUs: Int64 = 0
    public var pollDurationUs: Int64 = 0
    public var consecutiveErrors = 0
    public var errors = 0
    public var timeouts = 0
    public var badCRCs = 0
    public var exceptions = 0
    public var lastError = ""
    /// False while a window split the profile asks for (`panels.windowSplitKev`) has not been
    /// confirmed by this panel (written and read back): the spectral shares the NORM rule was
    /// commissioned with do not hold then, and the rule is off (docs/DETECTION.md).
    public var windowSplitConfirmed = true
    /// Multi-window panels (`panels.windows`): false until this panel has said it counts into the
    /// profile's K windows and its boundaries were read (and are those the profile asks for, when
    /// it asks): the spectral test is off until every panel's are (docs/DETECTION.md).
    public var windowsConfirmed = true
    /// The window boundaries read from the panel (K + 1 values, keV; 0 where not read yet).
    public var windowBoundariesKev = InlineArray<17, UInt16>(repeating: 0)
    public init() {}
}

/// A Modbus request from the console, run by the poll thread between two rounds of polls (the
/// bus has one owner; a console request never delays a poll).
public enum BusRequest: Sendable {
    case readInput(unit: Int, address: Int, count: Int)
    case readHolding(unit: Int, address: Int, count: Int)
    case write(unit: Int, address: Int, value: UInt16)
    case identify(unit: Int)
}

public enum BusReply: Sendable {
    case registers([UInt16])
    case written
    case identity([UInt8])
    case failed(String)
}

public final class PanelPoller: @unchecked Sendable {
    /// How often a lost connection (or a device that went away) is tried again: a panel back
    /// after an outage is read again within this plus one poll round.
    static let reconnectIntervalUs: Int64 = 250_000
    /// How often a panel that did not take the window split or boundaries is asked again.
    static let setupRetryIntervalUs: Int64 = 10_000_000
    /// The last problem logged per panel (the poll thread's own): a retry that fails the same
    /// way is not logged again.
    var windowsProblemLogged: [String?]
    var splitProblemLogged: [String?]
    let busCondition = NSCondition()
    /// The console request in flight and the reply waiting for its caller, each with the
    /// request's id: a reply is only ever taken by the caller whose id it carries, and the reply
    /// to a request its caller gave up on is dropped (it once stayed forever: every later request
    /// then failed with "bus busy", or a caller got the previous caller's registers).
    var busRequest: (id: UInt64, request: BusRequest)? = nil
    var busReply: (id: UInt64, reply: BusReply)? = nil
    var busNextId: UInt64 = 0
    /// Every request id up to this one has been answered or given up on.
    var busAbandonedThrough: UInt64 = 0
    public private(set) var busRequestsServed = 0
    public private(set) var busRepliesDropped = 0
    /// Reads the calling thread's allocation count (set by the executable; nil: not counted).
    public var threadAllocations: (@convention(c) () -> UInt64)? = nil
    /// Heap allocations the poll thread made in rounds of polls after the first 50 in which every
    /// panel answered (console requests excluded), and the rounds counted. A failed poll builds
    /// its error message (one allocation or so per failed panel), and a round that sets a panel's
    /// window split or boundaries up builds its own; those rounds are not counted.
    public private(set) var roundAllocations: (total: UInt64, rounds: Int64) = (0, 0)

    /// Runs `r` on the poll thread at its next gap; waits up to `timeoutS` for the answer.
    /// One request at a time (other callers wait their turn within the same timeout).
    public func perform(_ r: BusRequest, timeoutS: Double = 2) -> BusReply {
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        busCondition.lock(); defer { busCondition.unlock() }
        busNextId += 1
        let id = busNextId
        func giveUp(_ why: String) -> BusReply {
            if busRequest?.id == id { busRequest = nil }
            if busReply?.id == id { busReply = nil }
            if busAbandonedThrough < id { busAbandonedThrough = id }
            busCondition.broadcast()
            return .failed(why)
        }
        while busRequest != nil {
            if !busCondition.wait(until: deadline) { return giveUp("the Modbus bus is busy with another console request") }
        }
        busRequest = (id, r)
        busCondition.broadcast()
        while busReply?.id != id {
            if !busCondition.wait(until: deadline) {
                return giveUp("no answer from the poll thread within \(timeoutS) s (is the bus connected?)")
            }
        }
        let reply = busReply!.reply
        busReply = nil
        if busAbandonedThrough < id { busAbandonedThrough = id }
        busCondition.broadcast()
        return reply
    }

    /// Whether a console request waits to be taken by the poll thread (for tests that serve it).
    package var busRequestWaiting: Bool { busCondition.lock(); defer { busCondition.unlock() }; return busRequest != nil }

    package func serveBusRequest(_ client: ModbusClient) {
        busCondition.lock()
        // One reply waiting at a time: its caller is about to take it.
        guard busReply == nil, let (id, r) = busRequest else { busCondition.unlock(); return }
        busRequest = nil  // taken: the next caller may queue while this one is served
        busCondition.unlock()
        let reply: BusReply
        if !client.connected {
            reply = .failed("not connected to \(client.describe())")
        } else {
            do throws(ModbusError) {
                switch r {
                case let .readInput(unit, address, count):
                    var regs = [UInt16](repeating: 0, count: count)
                    try regs.withUnsafeMutableBufferPointer { b throws(ModbusError) in try client.readInputRegisters(unit: unit, address: address, count: count, into: b.baseAddress!) }
                    reply = .registers(regs)
                case let .readHolding(unit, address, count):
                    var regs = [UInt16](repeating: 0, count: count)
                    try regs.withUnsafeMutableBufferPointer { b throws(ModbusError) in try client.readHoldingRegisters(unit: unit, address: address, count: count, into: b.baseAddress!) }
                    reply = .registers(regs)
                case let .write(unit, address, value):
                    try client.writeRegister(unit: unit, address: address, value: value)
                    reply = .written
                case let .identify(unit):
                    reply = .identity(try client.reportServerID(unit: unit))
                }
            } catch {
                if error.kind != .connection { _ = client.resynchronize(quietUs: profile.timeouts.responseUs) }
                reply = .failed(error.message)
            }
        }
        busCondition.lock()
        busRequestsServed += 1
        if id <= busAbandonedThrough {
            busRepliesDropped += 1  // its caller gave up: nobody will take it
        } else {
            busReply = (id, reply)
        }
        busCondition.broadcast()
        busCondition.unlock()
    }

    let profile: BoardProfile
    let lock = NSLock()
    private var slots: [PanelSlot]
    private(set) var connectFailures = 0
    /// The last and the longest time one round of polls took.
    public private(set) var pollCycleUs: (last: Int64, max: Int64) = (0, 0)
    let periodUs: Int64
    /// Polls start this long before each tick so the tick gets fresh counts.
    let leadUs: Int64 = 30_000
    var log: (String) -> Void

    public var allocationsPerRound: (total: UInt64, rounds: Int64) { lock.lock(); defer { lock.unlock() }; return roundAllocations }

    public init(profile: BoardProfile, log: @escaping (String) -> Void) {
        self.profile = profile
        self.log = log
        var slot = PanelSlot()
        slot.windowSplitConfirmed = profile.windowSplitKev == nil
        slot.windowsConfirmed = profile.registerMap.windowCount == 0
        slots = Array(repeating: slot, count: profile.engine.panelCount)
        windowsProblemLogged = Array(repeating: nil, count: profile.engine.panelCount)
        splitProblemLogged = Array(repeating: nil, count: profile.engine.panelCount)
        periodUs = profile.engine.sampleIntervalUs
    }

    /// Copies the slots into `out` (preallocated by the caller: no allocation here).
    public func snapshot(into out: inout [PanelSlot]) {
        lock.lock()
        for i in 0..<slots.count { out[i] = slots[i] }
        lock.unlock()
    }

    /// Starts the poll thread, aligned to the tick grid that starts at `originUs`.
    public func start(originUs: Int64, stop: @escaping @Sendable () -> Bool) throws {
        let client = try ModbusClient(profile.transport, timeouts: profile.timeouts)
        startThread(name: "modbus-poll") { [self] in self.loop(client: client, originUs: originUs, stop: stop) }
    }

    func loop(client: ModbusClient, originUs: Int64, stop: () -> Bool) {
        let map = profile.registerMap
        let unitIDs = profile.unitIDs
        let regs = UnsafeMutablePointer<UInt16>.allocate(capacity: map.readCount)
        var k: Int64 = 1
        var lastConnectUs: Int64 = -10_000_000
        var reportedDown = false
        var allFailedRounds = 0
        // The window split and boundaries are set once per connection and per panel start
        // (uptime going backwards is a panel that restarted with its default settings).
        var splitAsked = [Bool](repeating: false, count: unitIDs.count)
        // A panel that did not take them (a timeout, a locked panel) is asked again every
        // `setupRetryIntervalUs`: one late reply once left NORM discrimination off for good.
        var setupRetryUs = [Int64](repeating: 0, count: unitIDs.count)
        let settingUp = profile.windowSplitKev != nil || map.windowCount > 0
        var lastUptimeMs = [UInt32](repeating: 0, count: unitIDs.count)
        while !stop() {
            var at = originUs + k * periodUs - leadUs
            let now = MonotonicClock.nowUs()
            if at < now - periodUs {  // fell behind (a long outage): skip to the next slot
                k = (now - originUs + leadUs) / periodUs + 1
                at = originUs + k * periodUs - leadUs
            }
            MonotonicClock.sleep(untilUs: at)
            k += 1
            if !client.connected {
                if MonotonicClock.nowUs() - lastConnectUs < Self.reconnectIntervalUs { markAllFailed("not connected"); serveBusRequest(client); continue }
                lastConnectUs = MonotonicClock.nowUs()
                do {
                    try client.connect()
                    log("connected to \(client.describe())")
                    reportedDown = false
                    for i in 0..<splitAsked.count { splitAsked[i] = false }
                } catch {
                    connectFailures += 1
                    if !reportedDown { log("\(error) (retrying every \(Self.reconnectIntervalUs / 1000) ms)"); reportedDown = true }
                    markAllFailed("\(error)")
                    serveBusRequest(client)
                    continue
                }
            }
            defer { serveBusRequest(client) }  // after the round and its timing
            let cycleStart = MonotonicClock.nowUs()
            let allocationsBefore = threadAllocations?() ?? 0
            var roundFailed = false
            defer {
                let took = MonotonicClock.nowUs() - cycleStart
                let made = (threadAllocations?() ?? 0) &- allocationsBefore
                lock.lock()
                pollCycleUs = (took, max(pollCycleUs.max, took))
                if threadAllocations != nil && k > 50 && !roundFailed { roundAllocations = (roundAllocations.total &+ made, roundAllocations.rounds + 1) }
                lock.unlock()
            }
            for i in 0..<unitIDs.count {  // indices, not enumerated(): its iterator allocates in debug builds
                let unit = unitIDs[i]
                let t0 = MonotonicClock.nowUs()
                do {
                    try client.readInputRegisters(unit: unit, address: map.readStart, count: map.readCount, into: regs)
                    let reading = map.decode(regs)
                    let t1 = MonotonicClock.nowUs()
                    lock.lock()
                    slots[i].reading = reading
                    slots[i].sequence += 1
                    slots[i].polledUs = t1
                    slots[i].pollDurationUs = t1 - t0
                    slots[i].consecutiveErrors = 0
                    lock.unlock()
                    if settingUp {
                        if reading.uptimeMs < lastUptimeMs[i] { splitAsked[i] = false }
                        lastUptimeMs[i] = reading.uptimeMs
                        if !splitAsked[i] || (setupRetryUs[i] > 0 && t1 >= setupRetryUs[i]) {
                            splitAsked[i] = true
                            roundFailed = true  // a round that sets a panel up builds messages: not counted
                            var ok = true
                            if map.windowCount > 0 { ok = setUpWindows(client, panel: i, unit: unit, reading: reading) }
                            if let split = profile.windowSplitKev { ok = setWindowSplit(client, panel: i, unit: unit, kev: split) && ok }
                            setupRetryUs[i] = ok ? 0 : MonotonicClock.nowUs() + Self.setupRetryIntervalUs
                        }
                    }
                } catch {
                    roundFailed = true
                    lock.lock()
                    slots[i].errors += 1
                    slots[i].consecutiveErrors += 1
                    switch error.kind {
                    case .timeout: slots[i].timeouts += 1
                    case .badCRC: slots[i].badCRCs += 1
                    case .exception: slots[i].exceptions += 1
                    default: break
                    }
                    let first = slots[i].consecutiveErrors == profile.panelSilentAfterPolls
                    slots[i].lastError = error.message
                    lock.unlock()
                    if first { log("panel \(profile.panelLabels[i]) (unit \(unit)) silent: \(error.message)") }
                    if error.kind == .connection { client.close(); break }
                    if case .exception = error.kind { continue }  // a whole, well-formed answer: nothing to resynchronize
                    // Timeout, bad CRC, wrong transaction or unit: a late or partial reply may follow.
                    if !client.resynchronize(quietUs: profile.timeouts.responseUs) { break }
                }
            }
            // Every panel failing for a second: the link itself may be stale (a serial device that
            // hung up and came back is a new device behind the same path): open it again.
            allFailedRounds = roundFailed && (0..<unitIDs.count).allSatisfy { slotFailed($0) } ? allFailedRounds + 1 : 0
            if allFailedRounds >= Int(1_000_000 / periodUs) && client.connected {
                log("every panel silent for 1 s: reopening \(client.describe())")
                client.close()
                allFailedRounds = 0
                lastConnectUs = -10_000_000
            }
        }
        client.close()
    }

    /// Multi-window panels: checks that panel i counts into the profile's K windows, sets its
    /// boundaries when the profile gives them (function 0x10, read back), and keeps the
    /// boundaries it reads; the slot says whether its windows can be used.
    @discardableResult
    func setUpWindows(_ client: ModbusClient, panel i: Int, unit: Int, reading: PanelReading) -> Bool {
        let map = profile.registerMap
        guard let block = map.windowBlock else { return true }
        let k = map.windowCount
        let label = "panel \(profile.panelLabels[i]) (unit \(unit))"
        var problem: String? = nil
        var read = [UInt16](repeating: 0, count: k + 1)
        if Int(reading.windowCount) != k {
            problem = "it counts into \(reading.windowCount) windows (register \(map.readStart + block.countOffset)), the profile reads \(k) (panels.windows)"
        } else {
            problem = Self.writeWindowBoundaries(client, unit: unit, register: block.boundaryRegister, kev: profile.windowBoundariesKev,
                                                 count: k + 1, split: (profile.windowSplitKev, map.windowSplitRegister), into: &read,
                                                 quietUs: profile.timeouts.responseUs)
        }
        lock.lock()
        let was = slots[i].windowsConfirmed
        slots[i].windowsConfirmed = problem == nil
        // What the panel counts with (kept when they rise, whatever was asked; else unknown).
        let rising = (1..<read.count).allSatisfy { read[$0] > read[$0 - 1] } && read.last! <= 20_000
        for j in 0..<17 { slots[i].windowBoundariesKev[j] = rising && j < read.count ? read[j] : 0 }
        lock.unlock()
        if let problem {
            if windowsProblemLogged[i] != problem {
                log("\(label): its \(k) energy windows cannot be used: \(problem); the spectral test is off until they can (asked again every \(Self.setupRetryIntervalUs / 1_000_000) s)")
            }
        } else if !was {
            log("\(label): \(k) energy windows, boundaries \(read.map(String.init).joined(separator: ", ")) keV\(profile.windowBoundariesKev != nil ? " (set, read back)" : "")")
        }
        windowsProblemLogged[i] = problem
        return problem == nil
    }

    /// Sets a panel's window boundaries (when `kev` is given) and reads them back into `read`
    /// (`count` = K + 1 registers): nil when they are what was asked, else why not. A panel
    /// refuses boundaries its current split is not one of: the split is then written first (the
    /// profile checked that it is one of the new boundaries) and the boundaries again.
    static func writeWindowBoundaries(_ client: ModbusClient, unit: Int, register: Int, kev: [Int]?, count: Int,
                                      split: (kev: Int?, register: Int?), into read: inout [UInt16], quietUs: Int) -> String? {
        func resync(_ e: ModbusError) { resynchronize(client, after: e, quietUs: quietUs) }
        if let kev {
            let values = kev.map { UInt16($0) }
            do {
                try client.writeRegisters(unit: unit, address: register, values: values)
            } catch {
                resync(error)
                guard case .exception = error.kind, let s = split.kev, let sr = split.register else { return error.message }
                let first = error.message
                do {
                    try client.writeRegister(unit: unit, address: sr, value: UInt16(s))
                    try client.writeRegisters(unit: unit, address: register, values: values)
                } catch {
                    resync(error)
                    return "\(first) (the split first: \(error.message))"
                }
            }
        }
        do {
            try read.withUnsafeMutableBufferPointer { b throws(ModbusError) in
                try client.readHoldingRegisters(unit: unit, address: register, count: count, into: b.baseAddress!)
            }
        } catch {
            resync(error)
            return error.message
        }
        if let kev, read.map(Int.init) != kev {
            return "they read back \(read.map(String.init).joined(separator: ", ")) keV"
        }
        for j in 1..<read.count where read[j] <= read[j - 1] {
            return "its boundaries \(read.map(String.init).joined(separator: ", ")) keV do not rise"
        }
        return nil
    }

    /// Writes the window split to panel i and reads it back; the slot says whether it holds.
    @discardableResult
    func setWindowSplit(_ client: ModbusClient, panel i: Int, unit: Int, kev: Int) -> Bool {
        guard let register = profile.registerMap.windowSplitRegister else { return true }
        let label = "panel \(profile.panelLabels[i]) (unit \(unit))"
        let problem = Self.writeWindowSplit(client, unit: unit, register: register, kev: kev, quietUs: profile.timeouts.responseUs)
        lock.lock()
        let was = slots[i].windowSplitConfirmed
        slots[i].windowSplitConfirmed = problem == nil
        lock.unlock()
        if let problem {
            if splitProblemLogged[i] != problem {
                log("\(label): window split \(kev) keV not taken (register \(register)): \(problem); NORM discrimination is off until it is (asked again every \(Self.setupRetryIntervalUs / 1_000_000) s)")
            }
        } else if !was {
            log("\(label): window split set to \(kev) keV (register \(register), read back)")
        }
        splitProblemLogged[i] = problem
        return problem == nil
    }

    /// Writes a window split and reads it back: nil when the panel holds it, else why not (the
    /// agent at start-up and check-board alike).
    static func writeWindowSplit(_ client: ModbusClient, unit: Int, register: Int, kev: Int, quietUs: Int) -> String? {
        var back: UInt16 = 0
        do {
            try client.writeRegister(unit: unit, address: register, value: UInt16(kev))
            try client.readHoldingRegisters(unit: unit, address: register, count: 1, into: &back)
            return Int(back) == kev ? nil : "it reads back \(back) keV"
        } catch {
            resynchronize(client, after: error, quietUs: quietUs)
            return error.message
        }
    }

    /// After a failed exchange: a late or partial reply may follow a timeout, a bad CRC or a
    /// wrong transaction, so the link is resynchronised; an exception is a whole answer and a
    /// lost connection has nothing to resynchronise.
    static func resynchronize(_ client: ModbusClient, after e: ModbusError, quietUs: Int) {
        switch e.kind {
        case .exception, .connection: break
        default: _ = client.resynchronize(quietUs: quietUs)
        }
    }

    func slotFailed(_ i: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return slots[i].consecutiveErrors > 0
    }

    func markAllFailed(_ why: String) {
        lock.lock()
        for i in slots.indices {
            slots[i].errors += 1
            slots[i].consecutiveErrors += 1
            slots[i].lastError = why
        }
        lock.unlock()
    }
}
