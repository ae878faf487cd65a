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
}
