// The one seam between the lane's Swift code and the kernel's file, socket and poll calls. Every
// wrapper reads errno at once, right after the call that failed (before a clean-up call such as
// close() can change it), and throws it as a `SysError` that names the call and what it was on;
// EINTR is retried where a retry is the right answer. Everything else in the package that opens,
// reads, writes, listens or accepts goes through here (docs/ARCHITECTURE.md, "The C seams").

import Foundation

/// A failed system call: which call, on what, and the errno it left.
public struct SysError: Error, CustomStringConvertible, Sendable, Equatable {
    public let call: String
    public let subject: String
    public let code: Int32
    public init(_ call: String, _ subject: String = "", code: Int32) {
        self.call = call
        self.subject = subject
        self.code = code
    }
    public var reason: String { String(cString: strerror(code)) }
    public var description: String { "\(call)\(subject.isEmpty ? "" : " \(subject)"): \(reason)" }
    /// A non-blocking descriptor had nothing to give or take now.
    public var wouldBlock: Bool { code == EAGAIN || code == EWOULDBLOCK }
}

public enum Sys {
    /// Runs a call that returns -1 on failure; errno is read before anything else runs.
    @inline(__always)
    static func check<T: BinaryInteger>(_ call: String, _ subject: String, retryEINTR: Bool = true, _ body: () -> T) throws(SysError) -> T {
        while true {
            let r = body()
            if r >= 0 { return r }
            let code = errno
            if code == EINTR && retryEINTR { continue }
            throw SysError(call, subject, code: code)
        }
    }

    // MARK: files

    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(SysError) -> Int32 {
        try check("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// Closes `fd` (on Linux the descriptor is gone whatever close() returns: nothing to retry).
    public static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Reads what is there, at most `buffer.count` bytes; 0 at end of file.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, _ subject: String = "") throws(SysError) -> Int {
        try check("read", subject) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Appends everything a non-blocking descriptor holds now to `inbox`; false when the peer has
    /// gone (end of file, or an error other than "nothing now").
    public static func drain(_ fd: Int32, into inbox: inout [UInt8]) -> Bool {
        var buf = InlineArray<1024, UInt8>(repeating: 0)
        while true {
            var span = buf.mutableSpan
            let r = span.withUnsafeMutableBytes { p in Result { () throws(SysError) in try read(fd, into: p) } }
            switch r {
            case let .success(n) where n > 0: for i in 0..<n { inbox.append(buf[i]) }
            case .success: return false
            case let .failure(e): return e.wouldBlock
            }
        }
    }

    /// Writes what the descriptor takes now (a short count is possible on sockets and pipes).
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ subject: String = "") throws(SysError) -> Int {
        guard bytes.count > 0 else { return 0 }
        return try check("write", subject) { Glibc.write(fd, bytes.baseAddress, bytes.count) }
    }

    /// Writes all of `bytes` to a blocking descriptor (a file).
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ subject: String = "") throws(SysError) {
        var done = 0
        while done < bytes.count {
            let n = try check("write", subject) { Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done) }
            if n == 0 { throw SysError("write", subject, code: EIO) }
            done += n
        }
    }

    public static func fsync(_ fd: Int32, _ subject: String = "") throws(SysError) {
        _ = try check("fsync", subject) { Glibc.fsync(fd) }
    }

    /// Forces a file's data (not every piece of its metadata) to storage.
    public static func fdatasync(_ fd: Int32, _ subject: String = "") throws(SysError) {
        _ = try check("fdatasync", subject) { Glibc.fdatasync(fd) }
    }

    /// Cuts the file at `path` to `size` bytes.
    public static func truncate(_ path: String, to size: Int) throws(SysError) {
        _ = try check("truncate", path) { Glibc.truncate(path, off_t(size)) }
    }

    /// Makes a rename or a new file in `directory` durable.
    public static func fsyncDirectory(_ directory: String) throws(SysError) {
        let d = try open(directory, O_RDONLY | O_DIRECTORY)
        defer { close(d) }
        try fsync(d, directory)
    }

    public static func rename(_ from: String, _ to: String) throws(SysError) {
        _ = try check("rename", "\(from) to \(to)") { Glibc.rename(from, to) }
    }

    /// Removes a file; one that is already gone is not an error.
    public static func unlink(_ path: String) throws(SysError) {
        do throws(SysError) { _ = try check("unlink", path) { Glibc.unlink(path) } } catch where error.code == ENOENT {}
    }

    /// A second name for a file (a hard link).
    public static func link(_ existing: String, _ new: String) throws(SysError) {
        _ = try check("link", "\(existing) to \(new)") { Glibc.link(existing, new) }
    }

    /// The size of a file, nil if it cannot be read.
    public static func fileSize(_ path: String) -> Int? {
        var st = Glibc.stat()
        return lstat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// Replaces `path` with `bytes` all at once: a temporary file beside it written and synced,
    /// renamed over it, and the directory synced. A crash leaves the old file or the new one.
    public static func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SysError) {
        let tmp = path + ".tmp"
        let f = try open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        do throws(SysError) {
            var failure: SysError? = nil
            bytes.withUnsafeBytes { b in
                do throws(SysError) { try writeAll(f, b, tmp) } catch { failure = error }
            }
            if let failure { throw failure }
            try fsync(f, tmp)
        } catch {
            close(f)
            try? unlink(tmp)
            throw error
        }
        close(f)
        try rename(tmp, path)
        try fsyncDirectory((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent)
    }

    // MARK: descriptors

    public static func setNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    public static func setCloseOnExec(_ fd: Int32) {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    /// Waits up to `timeoutMs` for `events` on `fd`; returns the events that happened (0: the time
    /// ran out, or a signal came).
    public static func poll(_ fd: Int32, events: Int16, timeoutMs: Int32, _ subject: String = "") throws(SysError) -> Int16 {
        var p = pollfd(fd: fd, events: events, revents: 0)
        let r = try check("poll", subject, retryEINTR: false) { Glibc.poll(&p, 1, timeoutMs) }
        return r == 0 ? 0 : p.revents
    }

    // MARK: sockets

    static func unixAddress(_ path: String) throws(SysError) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw SysError("bind", path, code: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        return addr
    }

    /// A listening Unix stream socket at `path` (an old socket file there is removed first);
    /// `mode` restricts who may connect.
    public static func listenUnix(_ path: String, backlog: Int32 = 4, mode: mode_t? = nil, nonBlocking: Bool = false) throws(SysError) -> Int32 {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try unlink(path)
        var addr = try unixAddress(path)
        let s = try check("socket", path) { Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do throws(SysError) {
            _ = try check("bind", path) {
                withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            }
            if let mode { _ = try check("chmod", path) { Glibc.chmod(path, mode) } }
            _ = try check("listen", path) { Glibc.listen(s, backlog) }
        } catch {
            close(s)
            throw error
        }
        if nonBlocking { setNonBlocking(s) }
        return s
    }

    /// A connected Unix stream socket.
    public static func connectUnix(_ path: String, nonBlocking: Bool = false) throws(SysError) -> Int32 {
        var addr = try unixAddress(path)
        let s = try check("socket", path) { Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do throws(SysError) {
            _ = try check("connect", path) {
                withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            }
        } catch {
            close(s)
            throw error
        }
        if nonBlocking { setNonBlocking(s) }
        return s
    }

    /// A listening TCP socket on `host` (an IPv4 address) and `port` (0: the kernel picks one);
    /// returns it with the port it got. Non-blocking.
    public static func listenTCP(host: String, port: Int, backlog: Int32 = 8) throws(SysError) -> (fd: Int32, port: Int) {
        let subject = "\(host):\(port)"
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { throw SysError("inet_pton", host, code: EINVAL) }
        let s = try check("socket", subject) { Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        do throws(SysError) {
            _ = try check("bind", subject) {
                withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
            _ = try check("listen", subject) { Glibc.listen(s, backlog) }
        } catch {
            close(s)
            throw error
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        setNonBlocking(s)
        return (s, Int(UInt16(bigEndian: bound.sin_port)))
    }

    /// A TCP connection to `host` (an IPv4 address) and `port`, made within `timeoutMs`
    /// (close-on-exec, non-blocking once connected). The error names the step that failed.
    public static func connectTCP(host: String, port: Int, timeoutMs: Int32) throws(SysError) -> Int32 {
        let subject = "\(host):\(port)"
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { throw SysError("inet_pton", host, code: EINVAL) }
        let s = try check("socket", subject) { Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0) }
        do throws(SysError) {
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if rc != 0 {
                let e = errno
                guard e == EINPROGRESS || e == EINTR else { throw SysError("connect", subject, code: e) }
                let ready = try poll(s, events: Int16(POLLOUT), timeoutMs: timeoutMs, subject)
                guard ready != 0 else { throw SysError("connect", subject, code: ETIMEDOUT) }
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len)
                if err != 0 { throw SysError("connect", subject, code: err) }
            }
        } catch {
            close(s)
            throw error
        }
        return s
    }

    /// Accepts one waiting connection (close-on-exec, non-blocking); nil if none is waiting.
    public static func accept(_ listener: Int32, _ subject: String = "") throws(SysError) -> Int32? {
        do throws(SysError) {
            let c = try check("accept", subject) { Glibc.accept(listener, nil, nil) }
            setCloseOnExec(c)
            setNonBlocking(c)
            return c
        } catch where error.wouldBlock || error.code == ECONNABORTED {
            return nil
        }
    }

    /// The IPv4 address of a connected TCP socket's peer ("127.0.0.1"); nil if it has none.
    public static func peerAddress(_ fd: Int32) -> String? {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) } }
        guard rc == 0, addr.sin_family == sa_family_t(AF_INET) else { return nil }
        var buf = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &addr.sin_addr, &buf, socklen_t(buf.count)) != nil else { return nil }
        return String(cString: buf)
    }

    /// Sends what the socket takes now, without SIGPIPE for a peer that has gone.
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ subject: String = "") throws(SysError) -> Int {
        guard bytes.count > 0 else { return 0 }
        return try check("send", subject) { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// An unbound Unix datagram socket for `sendDatagram` (non-blocking, close-on-exec).
    public static func datagramSocket(_ subject: String = "") throws(SysError) -> Int32 {
        try check("socket", subject) {
            Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }
    }

    /// The address of a Unix socket: a path, or with a leading '@' a name in the abstract
    /// namespace (systemd's NOTIFY_SOCKET may be either); with its length.
    public static func unixDatagramAddress(_ name: String) throws(SysError) -> (sockaddr_un, socklen_t) {
        guard name.hasPrefix("@") else {
            let a = try unixAddress(name)
            return (a, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8.dropFirst())
        guard bytes.count + 1 <= MemoryLayout.size(ofValue: addr.sun_path) else { throw SysError("sendto", name, code: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            p[0] = 0
            for (i, b) in bytes.enumerated() { p[i + 1] = b }
        }
        return (addr, socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count))
    }

    /// Sends one datagram without waiting (MSG_DONTWAIT: a receiver that does not read never
    /// holds the caller) and without SIGPIPE.
    public static func sendDatagram(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, to addr: inout sockaddr_un, length: socklen_t, _ subject: String = "") throws(SysError) -> Int {
        try check("sendto", subject) {
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), $0, length)
                }
            }
        }
    }

    /// Sends small writes at once (a line-oriented stream).
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
