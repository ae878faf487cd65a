// The service manager's notification protocol (sd_notify(3)): datagrams such as `READY=1` and
// `WATCHDOG=1` to the socket named in NOTIFY_SOCKET. Written over `Sys` instead of libsystemd's
// sd_notify because that call may block when the manager is slow to read, and the tick never
// waits: here every send is MSG_DONTWAIT and a message that cannot go now is counted, not
// retried. Without NOTIFY_SOCKET (not started by systemd) every call does nothing.

#if canImport(Glibc)
import Glibc
#endif

public final class SystemdNotifier {
    /// The socket's name as given (a path, or '@name' in the abstract namespace); nil: none.
    public let socketName: String?
    /// The manager's watchdog interval (WATCHDOG_USEC, for this process only); nil: none.
    public let watchdogUs: Int64?
    var fd: Int32 = -1
    var addr = sockaddr_un()
    var length: socklen_t = 0
    /// The watchdog message, encoded once: the tick sends it without allocating.
    let watchdogMessage: [UInt8] = Array("WATCHDOG=1".utf8)
    public private(set) var sent = 0
    public private(set) var failed = 0
    /// Why the socket could not be used (nil: it can, or there is none).
    public private(set) var problem: String?

    /// From the environment systemd gives a `Type=notify` service.
    public convenience init(environment: [String: String]) {
        var watchdog: Int64? = nil
        if let v = environment["WATCHDOG_USEC"], let us = Int64(v), us > 0 {
            // WATCHDOG_PID, when set, names the process meant (not a child that inherited it).
            if let pid = environment["WATCHDOG_PID"], Int32(pid) != getpid() { watchdog = nil } else { watchdog = us }
        }
        self.init(socket: environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }, watchdogUs: watchdog)
    }

    public init(socket: String?, watchdogUs: Int64?) {
        socketName = socket
        self.watchdogUs = watchdogUs
        guard let socket else { return }
        do throws(SysError) {
            (addr, length) = try Sys.unixDatagramAddress(socket)
            fd = try Sys.datagramSocket(socket)
        } catch {
            problem = "\(error)"
        }
    }

    deinit { if fd >= 0 { Sys.close(fd) } }

    public var isActive: Bool { fd >= 0 }

    /// Sends one message (`READY=1`, `STATUS=...`, `STOPPING=1`); false when it could not go.
    @discardableResult
    public func send(_ message: String) -> Bool {
        let bytes = Array(message.utf8)
        return bytes.withUnsafeBytes { send(raw: $0) }
    }

    /// `WATCHDOG=1`, without allocating (from the tick).
    @discardableResult
    public func petWatchdog() -> Bool { watchdogMessage.withUnsafeBytes { send(raw: $0) } }

    func send(raw: UnsafeRawBufferPointer) -> Bool {
        guard fd >= 0 else { return false }
        do throws(SysError) {
            _ = try Sys.sendDatagram(fd, raw, to: &addr, length: length, socketName ?? "")
            sent += 1
            return true
        } catch {
            failed += 1
            if problem == nil { problem = "\(error)" }
            return false
        }
    }
}
