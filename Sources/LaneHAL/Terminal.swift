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
        let fd: Int32
        do throws(SysError) { fd = try Sys.open(device, O_RDWR | O_NOCTTY | O_NONBLOCK) } catch {
            throw TerminalError("console: cannot open \(device): \(error.reason)")
        }
        do throws(TerminalError) { try makeRaw(fd, baud: baud) } catch {
            Sys.close(fd)
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
            Sys.close(master); Sys.close(slave)
            throw error
        }
        Sys.setNonBlocking(master)
        Sys.setCloseOnExec(master)
        Sys.setCloseOnExec(slave)
        // ttyname_r: ttyname's static buffer is shared by every thread.
        var name = [CChar](repeating: 0, count: 256)
        let rc = ttyname_r(slave, &name, name.count)
        guard rc == 0 else { Sys.close(master); Sys.close(slave); throw .errno("console: ttyname", code: rc) }
        let path = String(cString: name)
        try? FileManager.default.createDirectory(atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // Linked under a name of its own, then renamed over the link: atomic, so two agents
        // starting at once (or a restart racing the old link's removal) never see EEXIST; the
        // last one started owns the link.
        let temporary = link + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        try? Sys.unlink(temporary)
        guard symlink(path, temporary) == 0 else {
            let code = Glibc.errno
            Sys.close(master); Sys.close(slave)
            throw .errno("console: cannot link \(link) to \(path)", code: code)
        }
        do throws(SysError) { try Sys.rename(temporary, link) } catch {
            try? Sys.unlink(temporary)
            Sys.close(master); Sys.close(slave)
            throw .errno("console: cannot link \(link) to \(path)", code: error.code)
        }
        return (master, slave, path)
    }

    /// A listening Unix stream socket (mode 0600: only the agent's user may connect).
    public static func listenUnix(_ path: String) throws(TerminalError) -> Int32 {
        do throws(SysError) { return try Sys.listenUnix(path, backlog: 4, mode: 0o600) } catch {
            throw TerminalError("console: \(error)")
        }
    }

    /// Waits up to `timeoutMs` for `fd` to be readable; then reads what is there (at most
    /// `buffer.count`). 0: nothing (timeout); -1: the other end is gone.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int32) -> Int {
        let revents: Int16
        do throws(SysError) { revents = try Sys.poll(fd, events: Int16(POLLIN), timeoutMs: timeoutMs) } catch {
            return error.code == EINTR ? 0 : -1
        }
        if revents == 0 { return 0 }
        do throws(SysError) {
            let n = try Sys.read(fd, into: buffer)
            if n > 0 { return n }
        } catch where error.wouldBlock || error.code == EIO {
            // EIO: a pty whose other side is not open yet; nothing to read, not gone.
            if revents & Int16(POLLHUP | POLLERR | POLLNVAL) == 0 { return 0 }
        } catch {}
        // End of file, or a hang-up or error on the line (a socket closed, a USB-serial adapter
        // unplugged): gone.
        return -1
    }

    /// Writes all of `bytes`, waiting at most `timeoutMs` in all for the terminal to take them.
    /// Returns how many bytes were written; the rest is the caller's to drop and count.
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, timeoutMs: Int32) -> Int {
        var done = 0
        let deadline = MonotonicClock.nowUs() + Int64(timeoutMs) * 1000
        while done < bytes.count {
            do throws(SysError) {
                let n = try Sys.write(fd, UnsafeRawBufferPointer(rebasing: bytes[done...]))
                if n > 0 { done += n; continue }
            } catch where error.wouldBlock {
            } catch {
                break
            }
            let left = deadline - MonotonicClock.nowUs()
            if left <= 0 { break }
            _ = try? Sys.poll(fd, events: Int16(POLLOUT), timeoutMs: Int32(min(left / 1000 + 1, 1000)))
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
