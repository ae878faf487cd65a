// The panels' Modbus servers, through libmodbus: Modbus TCP (one connection at a time, the unit
// id selects the panel) and Modbus RTU on a pseudo-terminal the simulator creates. libmodbus's
// RTU receive filters on one unit id, so RTU frames are delimited here (by function code and
// length, CRC checked) and answered with modbus_reply for whichever panel they address.

import CModbus
import Foundation
import LaneHAL
import LaneSimCore

/// Register images of every panel, refreshed from the world before each reply.
final class PanelBank: @unchecked Sendable {
    var world: LaneWorld
    let lock: NSLock
    var mappings: [UnsafeMutablePointer<modbus_mapping_t>] = []
    let startMs: Int64
    /// reference-panel-mw-v1 (K windows, `windowCount` > 0) or reference-panel-v1 (0).
    let windowCount: Int
    /// Input registers per panel: 12 (v1), 14 + 2K (mw-v1); holding registers from 256.
    var inputCount: Int { windowCount > 0 ? 14 + 2 * windowCount : 12 }
    var holdingCount: Int { windowCount > 0 ? 5 + windowCount : 4 }
    var identification: String { windowCount > 0 ? "LANESIM RP-\(windowCount) 1.0" : "LANESIM RP-1 1.0" }
    var commandsSeen = 0
    /// Misbehaviour per panel, as a real panel or gateway shows it (docs/SIMULATOR.md, "Faults"),
    /// set on the control socket; each may be limited to a number of replies.
    var faults: [PanelFaults] = []
    var faultsServed = 0

    /// `windows`: the boundaries of a multi-window panel (reference-panel-mw-v1; the world's
    /// panels already set to them), or nil for reference-panel-v1.
    init(world: LaneWorld, lock: NSLock, windows: [Double]? = nil) {
        self.world = world
        self.lock = lock
        windowCount = windows.map { $0.count - 1 } ?? 0
        startMs = MonotonicClock.nowUs() / 1000
        for p in 0..<world.panelCount {
            // Input registers 0..11 (+ the window block), holding registers 256..259 (+ the boundaries).
            let m = modbus_mapping_new_start_address(0, 0, 0, 0, 256, UInt32(holdingCount), 0, UInt32(inputCount))!
            let h = lane_mapping_registers(m)!
            h[0] = UInt16(windows?.first ?? 30); h[1] = UInt16(world.windowSplitKev[p].rounded()); h[2] = 1000; h[3] = 0
            for (j, b) in (windows ?? []).enumerated() { h[4 + j] = UInt16(b) }
            mappings.append(m)
            faults.append(PanelFaults())
        }
    }

    /// Unit ids 1...N; anything else is not on the bus.
    func mapping(unit: Int) -> UnsafeMutablePointer<modbus_mapping_t>? {
        unit >= 1 && unit <= mappings.count ? mappings[unit - 1] : nil
    }

    /// Copies the world's counters into the panel's input registers (high word first). Call locked.
    func refresh(panel p: Int) {
        let r = lane_mapping_input_registers(mappings[p])!
        func put(_ off: Int, _ v: UInt32) { r[off] = UInt16(v >> 16); r[off + 1] = UInt16(v & 0xFFFF) }
        put(0, world.gammaTotal[p])
        put(2, world.gammaLow[p])
        put(4, world.neutron[p])
        put(6, UInt32(truncatingIfNeeded: MonotonicClock.nowUs() / 1000 - startMs + Int64(world.uptimeOffsetMs)))
        r[8] = 0x07  // gamma ok, neutron ok, high voltage ok
        r[9] = 1000
        r[10] = UInt16(bitPattern: Int16(215))
        r[11] = 0x0100
        if windowCount > 0 {
            r[12] = UInt16(windowCount)
            r[13] = 0
            for i in 0..<windowCount { put(14 + 2 * i, world.windowCounts[p].count == windowCount ? world.windowCounts[p][i] : 0) }
        }
    }

    /// Checks a write to the command register before it is applied: only the two commands exist.
    /// Returns the exception code to answer with, or nil.
    func checkWrite(_ req: UnsafePointer<UInt8>, offset: Int, length: Int) -> Int32? {
        let fc = req[offset]
        func be(_ i: Int) -> Int { Int(req[offset + i]) << 8 | Int(req[offset + i + 1]) }
        if fc == 0x06 && length >= offset + 5 {
            if be(1) == 259 && !Self.isCommand(be(3)) { return Int32(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE) }
            if windowCount > 0 && !settingsValid(after: [(be(1), be(3))], unitOffset: offset) { return Int32(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE) }
        } else if fc == 0x10 && length >= offset + 6 {
            let start = be(1), count = be(3)
            if start <= 259 && 259 < start + count && length >= offset + 6 + 2 * (259 - start) + 2 {
                if !Self.isCommand(be(6 + 2 * (259 - start))) { return Int32(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE) }
            }
            if windowCount > 0 && length >= offset + 6 + 2 * count {
                let writes = (0..<count).map { (start + $0, be(6 + 2 * $0)) }
                if !settingsValid(after: writes, unitOffset: offset) { return Int32(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE) }
            }
        }
        return nil
    }

    /// The panel being written to (set by `serve` before `checkWrite`).
    var writingPanel = 0

    /// reference-panel-mw-v1: the settings after these writes (address, value) are valid: the
    /// boundaries strictly increasing, the split one of the inner ones, the lower-level
    /// discriminator the first (a write to either of 256 and 260 moves the other).
    func settingsValid(after writes: [(Int, Int)], unitOffset: Int) -> Bool {
        let h = lane_mapping_registers(mappings[writingPanel])!
        var regs = (0..<holdingCount).map { Int(h[$0]) }
        var lld: Int? = nil, first: Int? = nil
        for (a, v) in writes where a >= 256 && a < 256 + holdingCount {
            regs[a - 256] = v
            if a == 256 { lld = v }
            if a == 260 { first = v }
        }
        if let lld, first == nil { regs[4] = lld }
        if let first, lld == nil { regs[0] = first }
        let b = Array(regs[4...])
        guard regs[0] == b[0], zip(b, b.dropFirst()).allSatisfy({ $0 < $1 }) else { return false }
        return b.dropFirst().dropLast().contains(regs[1])
    }

    /// After a valid write to a multi-window panel's settings: 256 and 260 agree, and the
    /// world counts with the panel's boundaries and split.
    func applyWindows(panel p: Int) {
        let h = lane_mapping_registers(mappings[p])!
        if h[0] != h[4] {
            // Whichever of the two was written wins (the other still holds the old value).
            if Double(h[4]) == world.energyWindowsKev[p].first { h[4] = h[0] } else { h[0] = h[4] }
        }
        let b = (0...windowCount).map { Double(h[4 + $0]) }
        let split = Double(h[1])
        if b != world.energyWindowsKev[p] || split != world.windowSplitKev[p] { pendingWindows = (p, b, split) }
    }

    static func isCommand(_ v: Int) -> Bool { v == 0xA5A5 || v == 0x5A5A }

    /// Acts on a command the reply has just written, and makes the register read back 0.
    func applyCommand(panel p: Int) {
        let h = lane_mapping_registers(mappings[p])!
        switch h[3] {
        case 0xA5A5: world.startSelfTest(panel: p); commandsSeen += 1
        case 0x5A5A: world.resetCounters(panel: p); commandsSeen += 1
        default: break
        }
        h[3] = 0
    }

    /// Serves one request (complete ADU in `req`) on `ctx`. Returns false when nothing was sent.
    /// A multi-window panel's new boundaries or split are derived after the reply, outside the
    /// lock (the world goes on meanwhile), and then applied.
    func serve(ctx: OpaquePointer, req: UnsafeMutablePointer<UInt8>, length: Int, unit: Int, isRTU: Bool, rtu: RTUServer? = nil) -> Bool {
        lock.lock()
        let sent = serveLocked(ctx: ctx, req: req, length: length, unit: unit, isRTU: isRTU, rtu: rtu)
        let change = pendingWindows
        pendingWindows = nil
        let w = world
        lock.unlock()
        if let change {
            // On a queue of its own: the derivation takes a while in a debug build, and the bus
            // must go on answering meanwhile (changes applied in the order written).
            nonisolated(unsafe) let w = w  // only the derivation's reads, and apply under the lock
            windowQueue.async { [self] in
                let started = MonotonicClock.nowUs()
                var text = ""
                if change.boundaries.isEmpty {
                    let setup = w.prepareSplit(panel: change.panel, kev: change.split)
                    lock.lock(); if world === w { w.apply(setup) }; lock.unlock()
                    text = "window split \(Int(change.split)) keV"
                } else {
                    guard let setup = w.prepareWindows(panel: change.panel, boundaries: change.boundaries, split: change.split) else { return }
                    lock.lock(); if world === w { w.apply(setup) }; lock.unlock()
                    text = "windows \(change.boundaries.map { String(Int($0)) }.joined(separator: ",")) keV, split \(Int(change.split)) keV"
                }
                if w.scenario.lane.physics != nil { log?("panel \(change.panel + 1): \(text) (derived in \((MonotonicClock.nowUs() - started) / 1000) ms)") }
            }
        }
        return sent
    }

    let windowQueue = DispatchQueue(label: "lane-sim.windows")
    var log: ((String) -> Void)? = nil

    /// A valid write changed a panel's split or a multi-window panel's boundaries (applied by
    /// `serve`; no boundaries: a two-window panel's split).
    var pendingWindows: (panel: Int, boundaries: [Double], split: Double)? = nil

    func serveLocked(ctx: OpaquePointer, req: UnsafeMutablePointer<UInt8>, length: Int, unit: Int, isRTU: Bool, rtu: RTUServer?) -> Bool {
        guard let m = mapping(unit: unit) else { return false }  // not on the bus: silence
        let offset = Int(modbus_get_header_length(ctx))
        let fc = req[offset]
        let f = faults[unit - 1].take()
        if f.kind != .none { faultsServed += 1 }
        switch f.kind {
        case .silent: return false
        case .late where !isRTU && fc == 0x04:
            // An asynchronous server (pymodbus, a gateway) answers this request late while it
            // goes on answering the next ones at once: the late reply arrives on its own, between
            // or inside the client's later exchanges.
            refresh(panel: unit - 1)
            let reply = tcpReadReply(req: req, offset: offset, mapping: m)
            let fd = modbus_get_socket(ctx)
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(f.value)) {
                _ = reply.withUnsafeBytes { try? Sys.write(fd, $0) }
            }
            return true
        case .late, .stall:
            // The panel (or its process) answers after the delay and answers nothing else
            // meanwhile (on RTU the bus is held). The lock is released: the world goes on.
            lock.unlock(); usleep(UInt32(f.value) * 1_000); lock.lock()
        case .exception: return modbus_reply_exception(ctx, req, UInt32(f.value)) > 0
        case .wrongTransaction where !isRTU: req[0] ^= 0x5A; req[1] ^= 0xA5
        case .otherUnit: req[offset - 1] = UInt8(truncatingIfNeeded: unit % 247 + 1)
        default: break
        }
        if f.kind == .restart { world.resetCounters(panel: unit - 1); world.uptimeOffsetMs = UInt32(truncatingIfNeeded: -(MonotonicClock.nowUs() / 1000 - startMs)) }
        if fc == 0x11 { return reportServerID(ctx: ctx, req: req, unit: unit, isRTU: isRTU) }
        if faults[unit - 1].readOnly && (fc == 0x06 || fc == 0x10) {
            return modbus_reply_exception(ctx, req, UInt32(MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS)) > 0
        }
        writingPanel = unit - 1
        if let exc = checkWrite(req, offset: offset, length: length) {
            return modbus_reply_exception(ctx, req, UInt32(exc)) > 0
        }
        if !faults[unit - 1].frozen { refresh(panel: unit - 1) }
        faults[unit - 1].overlay(lane_mapping_input_registers(m)!)
        if let rtu, fc == 0x04, f.kind == .badCRC || f.kind == .truncated || rtu.dropping, length >= offset + 5,
           (Int(req[offset + 1]) << 8 | Int(req[offset + 2])) + (Int(req[offset + 3]) << 8 | Int(req[offset + 4])) <= inputCount {
            // Read replies on RTU are written here (libmodbus always sends a good, whole one): a
            // bad CRC, a truncated frame, or bytes lost on the line.
            let adu = rtuReadReply(req: req, mapping: m, badCRC: f.kind == .badCRC, truncate: f.kind == .truncated)
            return adu.withUnsafeBytes { rtu.send(rtu.master, $0) }
        }
        let rc = modbus_reply(ctx, req, Int32(length), m)
        if fc == 0x06 || fc == 0x10 {
            applyCommand(panel: unit - 1)
            if windowCount > 0 {
                applyWindows(panel: unit - 1)
            } else {
                // The window split (257): a physics member's spectra follow it.
                let split = Double(lane_mapping_registers(m)![1])
                if split != world.windowSplitKev[unit - 1] { pendingWindows = (unit - 1, [], split) }
            }
        }
        return rc > 0
    }

    /// The Modbus TCP reply to a read of input registers (function 0x04), as bytes.
    func tcpReadReply(req: UnsafeMutablePointer<UInt8>, offset: Int, mapping m: UnsafeMutablePointer<modbus_mapping_t>) -> [UInt8] {
        let start = Int(req[offset + 1]) << 8 | Int(req[offset + 2]), count = Int(req[offset + 3]) << 8 | Int(req[offset + 4])
        let regs = lane_mapping_input_registers(m)!
        var pdu: [UInt8] = [0x04, UInt8(truncatingIfNeeded: 2 * count)]
        for i in 0..<count { let v = start + i < inputCount ? regs[start + i] : 0; pdu += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        let len = pdu.count + 1
        return [req[0], req[1], 0, 0, UInt8(len >> 8), UInt8(len & 0xFF), req[offset - 1]] + pdu
    }

    /// The RTU reply to a read of input registers (function 0x04), its CRC flipped or the frame
    /// cut in half on request.
    func rtuReadReply(req: UnsafeMutablePointer<UInt8>, mapping m: UnsafeMutablePointer<modbus_mapping_t>, badCRC: Bool = false, truncate: Bool = false) -> [UInt8] {
        let start = Int(req[2]) << 8 | Int(req[3]), count = Int(req[4]) << 8 | Int(req[5])
        let regs = lane_mapping_input_registers(m)!
        var adu: [UInt8] = [req[0], req[1], UInt8(truncatingIfNeeded: 2 * count)]
        for i in 0..<count { let v = start + i < inputCount ? regs[start + i] : 0; adu += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        let crc = crc16(adu)
        adu += [UInt8(crc & 0xFF) ^ (badCRC ? 0xFF : 0), UInt8(crc >> 8)]
        if truncate { adu.removeLast(adu.count / 2) }
        return adu
    }

    /// Function 0x11 answered with our own identification (libmodbus's names libmodbus).
    func reportServerID(ctx: OpaquePointer, req: UnsafeMutablePointer<UInt8>, unit: Int, isRTU: Bool) -> Bool {
        let data: [UInt8] = [UInt8(unit), 0xFF] + Array(identification.utf8)
        var pdu: [UInt8] = [0x11, UInt8(data.count)] + data
        var adu: [UInt8]
        if isRTU {
            adu = [UInt8(unit)] + pdu
            let crc = crc16(adu)
            adu += [UInt8(crc & 0xFF), UInt8(crc >> 8)]
        } else {
            let len = pdu.count + 1
            adu = [req[0], req[1], 0, 0, UInt8(len >> 8), UInt8(len & 0xFF), UInt8(unit)]
            adu += pdu
        }
        pdu.removeAll()
        let fd = modbus_get_socket(ctx)
        return adu.withUnsafeBytes { (try? Sys.write(fd, $0)) ?? -1 } == adu.count
    }
}

/// Modbus RTU CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF).
func crc16(_ bytes: [UInt8]) -> UInt16 {
    var crc: UInt16 = 0xFFFF
    for b in bytes {
        crc ^= UInt16(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
    }
    return crc
}

enum ModbusServers {
    /// Serves Modbus TCP on 127.0.0.1:port, forever, one client at a time.
    static func serveTCP(port: Int, bank: PanelBank, log: @escaping (String) -> Void) throws {
        guard let ctx = modbus_new_tcp("127.0.0.1", Int32(port)) else { throw SimError("cannot create the Modbus TCP context") }
        var listener = modbus_tcp_listen(ctx, 1)
        guard listener >= 0 else { throw SimError("cannot listen on 127.0.0.1:\(port): \(String(cString: modbus_strerror(errno)))") }
        let query = UnsafeMutablePointer<UInt8>.allocate(capacity: Int(MODBUS_TCP_MAX_ADU_LENGTH))
        startThread(name: "modbus") {
            while true {
                guard modbus_tcp_accept(ctx, &listener) >= 0 else { continue }
                log("modbus tcp: client connected")
                while true {
                    let n = modbus_receive(ctx, query)
                    if n < 0 { break }
                    if n == 0 { continue }
                    let unit = Int(query[Int(modbus_get_header_length(ctx)) - 1])
                    _ = bank.serve(ctx: ctx, req: query, length: Int(n), unit: unit, isRTU: false)
                }
                log("modbus tcp: client disconnected")
                Sys.close(modbus_get_socket(ctx))
                modbus_set_socket(ctx, -1)
            }
        }
    }

}

/// Modbus RTU on a pseudo-terminal the simulator creates, its agent-side device linked at `link`,
/// served forever on its own thread. A hang-up fault closes the pair (the agent's side sees the
/// device go) and after a while opens a new one behind the same link, as a USB adapter that was
/// pulled and plugged back; a byte-drop fault loses bytes of the next replies.
final class RTUServer: @unchecked Sendable {
    let link: String
    let bank: PanelBank
    let log: (String) -> Void
    private(set) var device = ""
    var master: Int32 = -1, slave: Int32 = -1
    let ctx: OpaquePointer
    let faultLock = NSLock()
    var pendingHangupMs: Int? = nil
    var dropBytes = 0

    init(link: String, bank: PanelBank, log: @escaping (String) -> Void) throws {
        self.link = link
        self.bank = bank
        self.log = log
        guard let c = modbus_new_rtu("/dev/null", 115200, CChar(UInt8(ascii: "N")), 8, 1) else { throw SimError("cannot create the RTU context") }
        ctx = c
        try open()
        startThread(name: "modbus") { [self] in self.loop() }
    }

    /// A new pseudo-terminal pair, raw, its agent side linked at `link`. The simulator keeps the
    /// agent side open too, so the master never sees a hang-up while the agent restarts.
    func open() throws {
        do throws(TerminalError) { (master, slave, device) = try Terminal.openPseudoTerminal(link: link) } catch {
            throw SimError("modbus rtu: \(error)")
        }
        // Blocking writes on the simulator's side, as before this used the shared opener (libmodbus
        // writes each reply whole; reads are polled first).
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) & ~O_NONBLOCK)
        modbus_set_socket(ctx, master)
    }

    func fault(_ f: RTUFault) {
        faultLock.lock(); defer { faultLock.unlock() }
        switch f {
        case .none: dropBytes = 0
        case let .hangup(ms): pendingHangupMs = ms
        case let .dropBytes(k): dropBytes += k
        }
    }

    /// Whether a byte-drop fault is in force.
    var dropping: Bool { faultLock.lock(); defer { faultLock.unlock() }; return dropBytes > 0 }

    /// Writes a reply, less the bytes a byte-drop fault takes.
    func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        faultLock.lock()
        let drop = min(dropBytes, bytes.count)
        dropBytes -= drop
        faultLock.unlock()
        guard drop < bytes.count else { return true }
        return (try? Sys.write(fd, UnsafeRawBufferPointer(rebasing: bytes[drop...]))) == bytes.count - drop
    }

    func loop() {
        var buf = [UInt8](repeating: 0, count: 512)
        var count = 0
        var lastByteUs: Int64 = 0
        while true {
            faultLock.lock()
            let hangup = pendingHangupMs
            pendingHangupMs = nil
            faultLock.unlock()
            if let ms = hangup {
                // The device goes: both ends closed (the agent's reads and writes fail with EIO),
                // the link removed; it comes back as a new device behind the same link.
                Sys.close(master); Sys.close(slave); try? Sys.unlink(link)
                log("modbus rtu: device \(device) hung up for \(ms) ms")
                usleep(UInt32(ms) * 1_000)
                do { try open(); log("modbus rtu: back as \(device) (linked at \(link))") } catch { log("modbus rtu: cannot reopen: \(error)"); return }
                count = 0
            }
            if let ready = try? Sys.poll(master, events: Int16(POLLIN), timeoutMs: 20), ready != 0 {
                let n = buf.withUnsafeMutableBytes { p in (try? Sys.read(master, into: UnsafeMutableRawBufferPointer(rebasing: p[count...]))) ?? -1 }
                if n > 0 { count += n; lastByteUs = MonotonicClock.nowUs() }
                if n <= 0 { usleep(10_000) }  // no agent side open (EIO): wait for one
                if count == buf.count { count = 0 }
            } else if count > 0 && MonotonicClock.nowUs() - lastByteUs > 20_000 {
                log("modbus rtu: discarded \(count) bytes of an incomplete frame")
                count = 0
            }
            // Take every complete frame from the front of the buffer.
            while count >= 4 {
                let fc = buf[1]
                var need: Int
                switch fc {
                case 0x01...0x06: need = 8
                case 0x0F, 0x10: need = count >= 7 ? 9 + Int(buf[6]) : Int.max
                case 0x07, 0x11: need = 4
                default: need = count  // unknown function: the whole burst
                }
                if count < need { break }
                let frame = Array(buf[0..<need])
                let crc = crc16(Array(frame[0..<(need - 2)]))
                if UInt16(frame[need - 2]) | UInt16(frame[need - 1]) << 8 != crc {
                    log("modbus rtu: bad CRC, discarding \(count) bytes")
                    count = 0
                    break
                }
                var req = frame
                _ = req.withUnsafeMutableBufferPointer { p in
                    bank.serve(ctx: ctx, req: p.baseAddress!, length: need, unit: Int(frame[0]), isRTU: true, rtu: self)
                }
                buf.replaceSubrange(0..<need, with: [])
                buf.append(contentsOf: [UInt8](repeating: 0, count: need))
                count -= need
            }
        }
    }
}

struct SimError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// One panel's misbehaviour. `kind` applies to the next `remaining` replies (-1: until cleared);
/// `frozen` and `status` hold until cleared.
struct PanelFaults {
    enum Kind: String, CaseIterable { case none, silent, late, stall, exception, wrongTransaction = "wrongtid", otherUnit = "otherunit", badCRC = "badcrc", truncated, restart }
    var kind = Kind.none
    var value = 0
    var remaining = 0
    /// Counters stop (the registers keep their last values, status OK).
    var frozen = false
    /// The status register forced to this value (any bits at all).
    var status: UInt16? = nil
    /// High voltage out of range: this many volts, the "high voltage ok" bit cleared.
    var highVoltage: UInt16? = nil
    /// The pillar door open: the tamper bit set.
    var tamper = false
    /// Writes to holding registers are refused (exception 0x02): a panel whose settings are
    /// locked, or a firmware that does not implement them.
    var readOnly = false
    /// A temperature fault: this temperature (tenths of a degree), the temperature-fault bit set.
    var temperatureDeci: Int16? = nil

    /// Writes the named health faults over a panel's registers (reference-panel-v1 layout).
    func overlay(_ r: UnsafeMutablePointer<UInt16>) {
        if let v = highVoltage { r[9] = v; r[8] &= ~0x0004 }
        if tamper { r[8] |= 0x0008 }
        if let t = temperatureDeci { r[10] = UInt16(bitPattern: t); r[8] |= 0x0010 }
        if let st = status { r[8] = st }
    }

    /// The fault for this reply (and counts it down).
    mutating func take() -> (kind: Kind, value: Int) {
        guard kind != .none, remaining != 0 else { return (.none, 0) }
        if remaining > 0 { remaining -= 1 }
        let k = kind
        if remaining == 0 { kind = .none }
        return (k, value)
    }
}
