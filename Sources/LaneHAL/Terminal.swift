// The console's C side: serial ports in termios raw mode, pseudo-terminals for development, a
// Unix socket for someone logged in over SSH, bounded reads and writes (a slow or silent terminal
// never holds the caller for long), and password hashes through libcrypt.

import CCrypt
import Foundation

public struct TerminalError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
    /// `code`: the errno read right after the failing call (before a clean-up call can change it).
    static func errno(_ what: String, code: Int32 = Glibc.errno) -> TerminalError { TerminalError("\(what): \(String(cString: strerror(code)))") }
}

public enum Terminal {
    /// termios speed constant for a baud rate, nil if the kernel has none.
    public static func speed(_ baud: Int) -> speed_t? {
        switch baud {
        case 1200: return speed_t(B1200)
        case 2400: return speed_t(B2400)
        case 4800: return speed_t(B4800)
        case 9600: return speed_t(B9600)
        case 19200: return speed_t(B19200)
        case 38400: return speed_t(B38400)
        case 57600: return speed_t(B57600)
        case 115_200: return speed_t(B115200)
        case 230_400: return speed_t(B230400)
        case 460_800: return speed_t(B460800)
        case 921_600: return speed_t(B921600)
        default: return nil
        }
    }

    /// Raw mode, 8N1, no flow control, the given speed; reads return at once (VMIN 0, VTIME 0).
    public static func makeRaw(_ fd: Int32, baud: Int?) throws(TerminalError) {
        var tio = termios()
        guard tcgetattr(fd, &tio) == 0 else { throw .errno("tcgetattr") }
        cfmakeraw(&tio)
        tio.c_cflag &= ~(tcflag_t(CSIZE) | tcflag_t(PARENB) | tcflag_t(CSTOPB) | tcflag_t(CRTSCTS))
        tio.c_cflag |= tcflag_t(CS8) | tcflag_t(CREAD) | tcflag_t(CLOCAL)
        tio.c_iflag &= ~(tcflag_t(IXON) | tcflag_t(IXOFF) | tcflag_t(IXANY))
        // A break arrives as a NUL byte (not a signal, not a flush): the console answers it.
        tio.c_iflag &= ~(tcflag_t(IGNBRK) | tcflag_t(BRKINT) | tcflag_t(PARMRK))
        withUnsafeMutableBytes(of: &tio.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        if let baud {
            guard let s = speed(baud) else { throw TerminalError("\(baud) baud is not a speed this serial port offers") }
            cfsetispeed(&tio, s)
            cfsetospeed(&tio, s)
        }
        guard tcsetattr(fd, TCSANOW, &tio) == 0 else { throw .errno("tcsetattr") }
    }

    /// Opens a serial device for the console (raw, 8N1, `baud`), non-blocking.
    public static func openSerial(_ device: String, baud: Int) throws(TerminalError) -> Int32 {
        let fd = open(device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .errno("console: cannot open \(device)") }
        do throws(TerminalError) { try makeRaw(fd, baud: baud) } catch {
            close(fd)
            throw TerminalError("console: \(device): \(error.message)")
        }
        return fd
    }

    /// A pseudo-terminal whose terminal side is linked at `link` (picocom, screen and the tests
    /// open that). The agent keeps the terminal side open as well, in raw mode, so that a
    /// technician closing their terminal is not a hang-up and the line settings stay raw.
    public static func openPseudoTerminal(link: String) throws(TerminalError) -> (master: Int32, keep: Int32, path: String) {
        var master: Int32 = -1, slave: Int32 = -1
        guard openpty(&master, &slave, nil, nil, nil) == 0 else { throw .errno("console: openpty") }
        do throws(TerminalError) { try makeRaw(slave, baud: nil) } catch {
            close(master); close(slave)
            throw error
        }
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        _ = fcntl(master, F_SETFD, FD_CLOEXEC)
        _ = fcntl(slave, F_SETFD, FD_CLOEXEC)
        guard let name = ttyname(slave) else { let code = Glibc.errno; close(master); close(slave); throw .errno("console: ttyname", code: code) }
        let path = String(cString: name)
        try? FileManager.default.createDirectory(atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        unlink(link)
        guard symlink(path, link) == 0 else {
            let code = Glibc.errno
            close(master); close(slave)
            throw .errno("console: cannot link \(link) to \(path)", code: code)
        }
        return (master, slave, path)
    }

    /// A listening Unix stream socket (mode 0600: only the agent's user may connect).
    public static func listenUnix(_ path: String) throws(TerminalError) -> Int32 {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        unlink(path)
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw .errno("console: socket") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(s)
            throw TerminalError("console: socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { let code = Glibc.errno; close(s); throw .errno("console: cannot bind \(path)", code: code) }
        chmod(path, 0o600)
        guard listen(s, 4) == 0 else { let code = Glibc.errno; close(s); throw .errno("console: listen on \(path)", code: code) }
        return s
    }

    /// Waits up to `timeoutMs` for `fd` to be readable; then reads what is there (at most
    /// `buffer.count`). 0: nothing (timeout); -1: the other end is gone.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int32) -> Int {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, timeoutMs)
        if r == 0 || (r < 0 && errno == EINTR) { return 0 }
        if r < 0 { return -1 }
        let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
        if n > 0 { return n }
        // Hang-up or error on the line (a socket closed, a USB-serial adapter unplugged): gone.
        if p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return -1 }
        if n < 0 && (errno == EAGAIN || errno == EINTR || errno == EIO) { return 0 }
        return -1
    }

    /// Writes all of `bytes`, waiting at most `timeoutMs` in all for the terminal to take them.
    /// Returns how many bytes were written; the rest is the caller's to drop and count.
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, timeoutMs: Int32) -> Int {
        var done = 0
        let deadline = MonotonicClock.nowUs() + Int64(timeoutMs) * 1000
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n > 0 { done += n; continue }
            if n < 0 && errno != EAGAIN && errno != EINTR { break }
            let left = deadline - MonotonicClock.nowUs()
            if left <= 0 { break }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, Int32(min(left / 1000 + 1, 1000)))
        }
        return done
    }
}

/// Password hashes in crypt(3) form ($y$ yescrypt, $6$ SHA-512, as `openssl passwd -6` or
/// `mkpasswd` write them), through libcrypt.
public enum PasswordHash {
    public static func verify(_ password: String, against hash: String) -> Bool {
        guard hash.hasPrefix("$") else { return false }  // no locked ("!"/"*") or empty hashes
        let size = Int(lane_crypt_data_size())
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { data.initializeMemory(as: UInt8.self, repeating: 0, count: size); data.deallocate() }
        data.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        guard let out = crypt_r(password, hash, data.assumingMemoryBound(to: crypt_data.self)) else { return false }
        let computed = String(cString: out)
        // Compare in constant time over the full length.
        let a = Array(computed.utf8), b = Array(hash.utf8)
        guard a.count == b.count, computed.hasPrefix("$") else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// A new yescrypt hash with a random salt.
    public static func make(_ password: String) -> String? {
        var setting = [CChar](repeating: 0, count: 128)
        guard crypt_gensalt_rn("$y$", 0, nil, 0, &setting, Int32(setting.count)) != nil else { return nil }
        let size = Int(lane_crypt_data_size())
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { data.deallocate() }
        data.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        guard let out = crypt_r(password, setting, data.assumingMemoryBound(to: crypt_data.self)) else { return nil }
        let h = String(cString: out)
        return h.hasPrefix("$") ? h : nil
    }
}
