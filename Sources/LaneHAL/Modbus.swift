// The Modbus client: one libmodbus context, used from one thread only (libmodbus contexts are
// not thread-safe). Every timeout and recovery option is set explicitly: libmodbus's default
// response timeout is 500 ms, five ticks.

import CModbus
#if canImport(Glibc)
import Glibc
#endif

public enum ModbusTransport: Sendable, Equatable {
    case tcp(host: String, port: Int)
    case rtu(device: String, baud: Int, parity: UInt8, dataBits: Int, stopBits: Int)
}

public struct ModbusTimeouts: Sendable, Equatable {
    /// How long to wait for the first byte of a reply.
    public var responseUs: Int
    /// How long to wait between two bytes of one reply.
    public var byteUs: Int
    public init(responseUs: Int, byteUs: Int) {
        self.responseUs = responseUs
        self.byteUs = byteUs
    }
}

public struct ModbusError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case timeout, badCRC, exception(UInt8), connection, other }
    public var kind: Kind
    public var errno: Int32
    public var message: String
    public var description: String { message }

    static func fromErrno(_ context: String) -> ModbusError {
        let e = Glibc.errno
        let text = String(cString: modbus_strerror(e))
        var kind: Kind = .other
        if e == ETIMEDOUT { kind = .timeout }
        else if e == lane_EMBBADCRC { kind = .badCRC }
        else if e > lane_MODBUS_ENOBASE && e <= lane_EMBXGTAR { kind = .exception(UInt8(e - lane_MODBUS_ENOBASE)) }
        else if e == ECONNRESET || e == EPIPE || e == ECONNREFUSED || e == EBADF || e == ENOTCONN || e == EIO || e == ENXIO || e == ENODEV {
            kind = .connection  // EIO/ENXIO/ENODEV: a serial device that hung up or went away
        }
        return ModbusError(kind: kind, errno: e, message: "\(context): \(text)")
    }
}

/// A Modbus client connection (TCP or RTU). Not thread-safe: own it from one thread.
public final class ModbusClient {
    let ctx: OpaquePointer
    public let transport: ModbusTransport
    public private(set) var connected = false

    public init(_ transport: ModbusTransport, timeouts: ModbusTimeouts) throws(ModbusError) {
        self.transport = transport
        var made: OpaquePointer?
        switch transport {
        case let .tcp(host, port):
            made = modbus_new_tcp(host, Int32(port))
        case let .rtu(device, baud, parity, dataBits, stopBits):
            made = modbus_new_rtu(device, Int32(baud), CChar(bitPattern: parity), Int32(dataBits), Int32(stopBits))
        }
        guard let made else { throw ModbusError.fromErrno("cannot create the Modbus context") }
        ctx = made
        modbus_set_response_timeout(ctx, UInt32(timeouts.responseUs / 1_000_000), UInt32(timeouts.responseUs % 1_000_000))
        modbus_set_byte_timeout(ctx, UInt32(timeouts.byteUs / 1_000_000), UInt32(timeouts.byteUs % 1_000_000))
        // Recover the link (reconnect) and the protocol (flush) by ourselves, not inside a call:
        // libmodbus's own recovery sleeps, which would stall the poll thread unpredictably.
        modbus_set_error_recovery(ctx, MODBUS_ERROR_RECOVERY_NONE)
    }

    deinit {
        if connected { modbus_close(ctx) }
        modbus_free(ctx)
    }

    public func connect() throws(ModbusError) {
        if connected { return }
        guard modbus_connect(ctx) == 0 else { throw ModbusError.fromErrno("cannot connect to \(describe())") }
        connected = true
    }

    public func close() {
        if connected { modbus_close(ctx) }
        connected = false
    }

    /// Discards bytes left on the line after an error (a late reply must not be taken for the next one).
    public func flush() { _ = modbus_flush(ctx) }

    /// Puts the link back in step after a failed exchange, so that a reply arriving late is never
    /// read as the answer to the next request (libmodbus then reports "Invalid data" for every
    /// request that follows, for good). TCP: a new connection (the old one's late bytes go with
    /// it). RTU: wait `quietUs` for the rest of a late reply, then discard what came.
    /// Returns false when a TCP reconnection failed (the caller retries later).
    public func resynchronize(quietUs: Int) -> Bool {
        switch transport {
        case .tcp:
            close()
            do { try connect() } catch { return false }
            return true
        case .rtu:
            usleep(UInt32(max(0, min(quietUs, 200_000))))
            flush()
            return true
        }
    }

    public func describe() -> String {
        switch transport {
        case let .tcp(host, port): return "Modbus TCP \(host):\(port)"
        case let .rtu(device, baud, parity, dataBits, stopBits):
            return "Modbus RTU \(device) \(baud) \(dataBits)\(Character(Unicode.Scalar(parity)))\(stopBits)"
        }
    }

    /// Reads `count` input registers (function 0x04) of `unit` into `out`.
    public func readInputRegisters(unit: Int, address: Int, count: Int, into out: UnsafeMutablePointer<UInt16>) throws(ModbusError) {
        modbus_set_slave(ctx, Int32(unit))
        let n = modbus_read_input_registers(ctx, Int32(address), Int32(count), out)
        guard n == count else { throw ModbusError.fromErrno("unit \(unit): read input registers \(address)+\(count)") }
    }

    public func readHoldingRegisters(unit: Int, address: Int, count: Int, into out: UnsafeMutablePointer<UInt16>) throws(ModbusError) {
        modbus_set_slave(ctx, Int32(unit))
        let n = modbus_read_registers(ctx, Int32(address), Int32(count), out)
        guard n == count else { throw ModbusError.fromErrno("unit \(unit): read holding registers \(address)+\(count)") }
    }

    public func writeRegister(unit: Int, address: Int, value: UInt16) throws(ModbusError) {
        modbus_set_slave(ctx, Int32(unit))
        guard modbus_write_register(ctx, Int32(address), value) == 1 else {
            throw ModbusError.fromErrno("unit \(unit): write register \(address)")
        }
    }

    /// Function 0x10: writes `values` to the holding registers from `address` in one request.
    public func writeRegisters(unit: Int, address: Int, values: [UInt16]) throws(ModbusError) {
        modbus_set_slave(ctx, Int32(unit))
        let n = values.withUnsafeBufferPointer { modbus_write_registers(ctx, Int32(address), Int32($0.count), $0.baseAddress) }
        guard n == Int32(values.count) else { throw ModbusError.fromErrno("unit \(unit): write registers \(address)+\(values.count)") }
    }

    /// Function 0x11: the server's identification bytes after the byte count.
    public func reportServerID(unit: Int) throws(ModbusError) -> [UInt8] {
        modbus_set_slave(ctx, Int32(unit))
        var buf = [UInt8](repeating: 0, count: 256)
        let n = modbus_report_slave_id(ctx, Int32(buf.count), &buf)
        guard n >= 0 else { throw ModbusError.fromErrno("unit \(unit): report server id") }
        return Array(buf.prefix(Int(min(n, Int32(buf.count)))))
    }
}
