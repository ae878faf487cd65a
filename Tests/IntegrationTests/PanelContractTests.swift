// Proves the simulator serves shared/contracts/panel-modbus.md, read with a plain libmodbus
// client: the register map and its values, high word first, counters and uptime wrapping at
// 2^32, the holding registers, the exception codes, the self-test and reset commands, silence for
// a unit id that does not exist, the identification string; over TCP and over RTU on the pty.

import CModbus
import Foundation
import Testing

/// A libmodbus client for the test, every timeout explicit.
final class Client {
    let ctx: OpaquePointer
    init(_ ctx: OpaquePointer) throws {
        self.ctx = ctx
        modbus_set_response_timeout(ctx, 0, 200_000)
        modbus_set_byte_timeout(ctx, 0, 50_000)
        guard modbus_connect(ctx) == 0 else { throw ClientError(errno: errno) }
    }
    deinit { modbus_close(ctx); modbus_free(ctx) }

    func input(unit: Int32, _ addr: Int32, _ count: Int32) -> Result<[UInt16], ClientError> {
        modbus_set_slave(ctx, unit)
        var r = [UInt16](repeating: 0, count: Int(count))
        return modbus_read_input_registers(ctx, addr, count, &r) == count ? .success(r) : .failure(ClientError(errno: errno))
    }
    func holding(unit: Int32, _ addr: Int32, _ count: Int32) -> Result<[UInt16], ClientError> {
        modbus_set_slave(ctx, unit)
        var r = [UInt16](repeating: 0, count: Int(count))
        return modbus_read_registers(ctx, addr, count, &r) == count ? .success(r) : .failure(ClientError(errno: errno))
    }
    func write(unit: Int32, _ addr: Int32, _ value: UInt16) -> ClientError? {
        modbus_set_slave(ctx, unit)
        return modbus_write_register(ctx, addr, value) == 1 ? nil : ClientError(errno: errno)
    }
    func writeMany(unit: Int32, _ addr: Int32, _ values: [UInt16]) -> ClientError? {
        modbus_set_slave(ctx, unit)
        return modbus_write_registers(ctx, addr, Int32(values.count), values) == Int32(values.count) ? nil : ClientError(errno: errno)
    }
    func serverID(unit: Int32) -> [UInt8]? {
        modbus_set_slave(ctx, unit)
        var buf = [UInt8](repeating: 0, count: 128)
        let n = modbus_report_slave_id(ctx, 128, &buf)
        return n > 0 ? Array(buf.prefix(Int(n))) : nil
    }
}

struct ClientError: Error, Equatable { var errno: Int32 }

func u32(_ r: [UInt16], _ i: Int) -> UInt32 { UInt32(r[i]) << 16 | UInt32(r[i + 1]) }

@Suite(.timeLimit(integrationTimeLimit))
struct PanelContractTests {
    func checkContract(_ c: Client) throws {
        // The whole block, every panel: status ok, high voltage, temperature, firmware.
        for unit: Int32 in 1...4 {
            let r = try c.input(unit: unit, 0, 12).get()
            #expect(r[8] == 0x07 && r[9] == 1000 && Int16(bitPattern: r[10]) == 215 && r[11] == 0x0100)
            #expect(u32(r, 2) &- 4_294_967_000 <= u32(r, 0) &- 4_294_967_000, "gammaLow is a subset of gammaTotal")
        }
        // High word first, wrapping: counters and uptime started just below 2^32 and wrap now.
        let a = try c.input(unit: 1, 0, 12).get()
        usleep(1_500_000)
        let b = try c.input(unit: 1, 0, 12).get()
        let dt = u32(b, 6) &- u32(a, 6)
        #expect(dt >= 1_400 && dt <= 2_500, "uptime advanced \(dt) ms over 1.5 s")
        #expect(u32(b, 6) < u32(a, 6), "uptime wrapped at 2^32 ms")
        let dg = u32(b, 0) &- u32(a, 0)
        #expect(dg > 300 && dg < 1_500, "about 420 counts/s: \(dg) counts in \(dt) ms")
        #expect(u32(b, 0) < u32(a, 0), "the gamma counter wrapped at 2^32")
        // Holding registers and their defaults; the command register reads back 0.
        #expect(try c.holding(unit: 2, 256, 4).get() == [30, 250, 1000, 0])
        // Exceptions: illegal address 0x02, illegal value 0x03.
        #expect(c.input(unit: 1, 12, 1) == .failure(ClientError(errno: lane_EMBXILADD)))
        #expect(c.holding(unit: 1, 100, 1) == .failure(ClientError(errno: lane_EMBXILADD)))
        #expect(c.write(unit: 1, 260, 1) == ClientError(errno: lane_EMBXILADD))
        #expect(c.write(unit: 1, 259, 0x1234) == ClientError(errno: lane_EMBXILVAL))
        #expect(c.writeMany(unit: 1, 258, [900, 0x0001]) == ClientError(errno: lane_EMBXILVAL))
        #expect(c.write(unit: 1, 257, 300) == nil)
        #expect(try c.holding(unit: 1, 257, 1).get() == [300])
        // A unit id that does not exist gets no answer.
        #expect(c.input(unit: 9, 0, 12) == .failure(ClientError(errno: ETIMEDOUT)))
        // Identification.
        let id = try #require(c.serverID(unit: 3))
        #expect(String(decoding: id.dropFirst(2), as: UTF8.self).hasPrefix("LANESIM RP-1"))
        // Self-test: the pulser adds about 1,000 counts/s for 2 s on that panel only.
        let before3 = try c.input(unit: 3, 0, 2).get(), before4 = try c.input(unit: 4, 0, 2).get()
        #expect(c.write(unit: 3, 259, 0xA5A5) == nil)
        #expect(try c.holding(unit: 3, 259, 1).get() == [0])
        usleep(1_000_000)
        let after3 = try c.input(unit: 3, 0, 2).get(), after4 = try c.input(unit: 4, 0, 2).get()
        let d3 = u32(after3, 0) &- u32(before3, 0), d4 = u32(after4, 0) &- u32(before4, 0)
        #expect(d3 > d4 + 600, "self-test panel \(d3) counts vs \(d4)")
        // Reset: the counters start again from zero.
        #expect(c.write(unit: 4, 259, 0x5A5A) == nil)
        let reset = try c.input(unit: 4, 0, 6).get()
        #expect(u32(reset, 0) < 200 && u32(reset, 4) < 20)
    }

    @Test("the reference panel's contract over Modbus TCP")
    func tcp() throws {
        let dir = scratch("contract-tcp")
        let port = freePort()
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(port),
                                         "--gpio-socket", dir + "/gpio.sock", "--counter-start", "4294967000",
                                         "--uptime-start-ms", "4294966500"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        usleep(200_000)
        let c = try Client(modbus_new_tcp("127.0.0.1", Int32(port))!)
        try checkContract(c)
    }

    @Test("the reference panel's contract over Modbus RTU on the pseudo-terminal")
    func rtu() throws {
        let dir = scratch("contract-rtu")
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", "0",
                                         "--rtu-link", dir + "/tty", "--gpio-socket", dir + "/gpio.sock",
                                         "--counter-start", "4294967000", "--uptime-start-ms", "4294966500"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/tty"))
        let c = try Client(modbus_new_rtu(dir + "/tty", 115_200, CChar(UInt8(ascii: "N")), 8, 1)!)
        try checkContract(c)
    }

    /// reference-panel-mw-v1 (K = 8, the contract's default boundaries), as an outside client
    /// reads and writes it: the window block, the boundaries, the rules on writing them.
    func checkMultiWindow(_ c: Client) throws {
        let id = try #require(c.serverID(unit: 2))
        #expect(String(decoding: id.dropFirst(2), as: UTF8.self).hasPrefix("LANESIM RP-8"))
        let defaults: [UInt16] = [30, 80, 150, 250, 400, 650, 1000, 1500, 3000]
        let start = try c.holding(unit: 1, 256, 13).get()
        #expect(Array(start[4...]) == defaults && start[0] == 30 && start[2] == 1000 && start[3] == 0)
        #expect(defaults.dropFirst().dropLast().contains(start[1]), "the member's split, moved to the nearest boundary: \(start[1])")
        #expect(c.write(unit: 1, 257, 400) == nil)
        let h = try c.holding(unit: 1, 256, 13).get()
        #expect(h[1] == 400)
        usleep(1_500_000)  // lane-sim derives the new windows' spectra after the reply (0.3-0.6 s in a debug build)
        // One read of 14 + 2K registers; the windows partition gammaTotal, those under the split gammaLow.
        func deltas(_ unit: Int32) throws -> (total: UInt32, low: UInt32, windows: [UInt32]) {
            let a = try c.input(unit: unit, 0, 30).get()
            usleep(1_500_000)
            let b = try c.input(unit: unit, 0, 30).get()
            #expect(b[12] == 8 && b[13] == 0)
            return (u32(b, 0) &- u32(a, 0), u32(b, 2) &- u32(a, 2), (0..<8).map { u32(b, 14 + 2 * $0) &- u32(a, 14 + 2 * $0) })
        }
        var d = try deltas(1)
        #expect(d.total > 300 && d.windows.reduce(0, +) == d.total && d.windows[0..<4].reduce(0, +) == d.low, "\(d)")
        #expect(c.input(unit: 1, 30, 1) == .failure(ClientError(errno: lane_EMBXILADD)), "no register after the window block")
        // Refused with 0x03, nothing changed: boundaries not increasing, a split that is not a boundary.
        #expect(c.write(unit: 1, 262, 70) == ClientError(errno: lane_EMBXILVAL))
        #expect(c.write(unit: 1, 257, 300) == ClientError(errno: lane_EMBXILVAL))
        #expect(c.write(unit: 1, 264, 450) == ClientError(errno: lane_EMBXILVAL), "the split (400) would no longer be a boundary")
        #expect(c.writeMany(unit: 1, 263, [250, 200]) == ClientError(errno: lane_EMBXILVAL))
        #expect(try c.holding(unit: 1, 256, 13).get() == h)
        // Accepted: the split at 650, then a boundary moved; the LLD and boundary 0 move together.
        #expect(c.write(unit: 1, 257, 650) == nil)
        #expect(c.writeMany(unit: 1, 263, [200, 450]) == nil)
        #expect(c.write(unit: 1, 256, 40) == nil)
        let now = try c.holding(unit: 1, 256, 13).get()
        #expect(now[0] == 40 && now[1] == 650 && Array(now[4...]) == [40, 80, 150, 200, 450, 650, 1000, 1500, 3000], "\(now)")
        usleep(2_500_000)
        d = try deltas(1)
        #expect(d.windows.reduce(0, +) == d.total && d.windows[0..<5].reduce(0, +) == d.low, "gammaLow is now the 5 windows under 650 keV: \(d)")
        let other = try deltas(2), otherSplit = try c.holding(unit: 2, 257, 1).get()[0]
        let below = defaults.firstIndex(of: otherSplit) ?? -1
        #expect(otherSplit == start[1] && below > 0 && other.windows[0..<below].reduce(0, +) == other.low, "panel 2 keeps its own settings")
    }

    @Test("the multi-window panel's contract (reference-panel-mw-v1, K = 8) over Modbus TCP: lane-sim --physics m1 --windows")
    func multiWindowTCP() throws {
        let dir = scratch("contract-mw-tcp")
        let port = freePort()
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(port), "--physics", "m1",
                                         "--windows", "30,80,150,250,400,650,1000,1500,3000", "--gpio-socket", dir + "/gpio.sock"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        usleep(200_000)
        try checkMultiWindow(try Client(modbus_new_tcp("127.0.0.1", Int32(port))!))
    }

    @Test("the multi-window panel's contract over Modbus RTU on the pseudo-terminal")
    func multiWindowRTU() throws {
        let dir = scratch("contract-mw-rtu")
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", "0", "--rtu-link", dir + "/tty",
                                         "--physics", "m1", "--windows", "30,80,150,250,400,650,1000,1500,3000", "--gpio-socket", dir + "/gpio.sock"],
                            dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/tty"))
        try checkMultiWindow(try Client(modbus_new_rtu(dir + "/tty", 115_200, CChar(UInt8(ascii: "N")), 8, 1)!))
    }
}
