// Proves the system-call seam (LaneHAL's `Sys`): a failure names the call, what it was on and
// the errno it left (read before any clean-up), "nothing now" on a non-blocking descriptor is
// told apart from a peer that has gone, and a file replaced atomically is either the old or the
// new one.

import Foundation
import LaneHAL
import Testing

@Suite struct SysTests {
    @Test("a failed open names the call, the path and the reason")
    func openFails() {
        #expect(throws: SysError("open", "/nonexistent-dir/x", code: ENOENT)) { try Sys.open("/nonexistent-dir/x", O_RDONLY) }
        #expect(SysError("open", "/nonexistent-dir/x", code: ENOENT).description == "open /nonexistent-dir/x: No such file or directory")
    }

    @Test("writeFileAtomically replaces a file whole; into a directory that does not exist it fails naming the temporary file and leaves nothing")
    func atomicWrite() throws {
        let dir = NSTemporaryDirectory() + "sys-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/f"
        try Sys.writeFileAtomically(path, Array("old".utf8))
        try Sys.writeFileAtomically(path, Array("new contents".utf8))
        #expect(String(decoding: FileManager.default.contents(atPath: path)!, as: UTF8.self) == "new contents")
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        #expect(Sys.fileSize(path) == 12)
        #expect(throws: SysError("open", dir + "/missing/f.tmp", code: ENOENT)) { try Sys.writeFileAtomically(dir + "/missing/f", [1]) }
        try Sys.unlink(path)
        try Sys.unlink(path)  // already gone: not an error
    }

    @Test("a Unix socket: accept gives nil while nobody waits; drain tells 'nothing now' from a peer that has gone; a path too long is refused")
    func sockets() throws {
        let path = NSTemporaryDirectory() + "sys-\(getpid()).sock"
        let listener = try Sys.listenUnix(path, nonBlocking: true)
        defer { Sys.close(listener); try? Sys.unlink(path) }
        #expect(try Sys.accept(listener) == nil)
        let client = try Sys.connectUnix(path, nonBlocking: true)
        var server: Int32? = nil
        for _ in 0..<100 where server == nil { server = try Sys.accept(listener); usleep(1_000) }
        let s = try #require(server)
        var inbox: [UInt8] = []
        #expect(Sys.drain(s, into: &inbox) && inbox.isEmpty, "nothing sent yet: still open")
        _ = try Array("EDGE 0 1 5\n".utf8).withUnsafeBytes { try Sys.write(client, $0) }
        #expect(Sys.drain(s, into: &inbox))
        #expect(String(decoding: inbox, as: UTF8.self) == "EDGE 0 1 5\n")
        Sys.close(client)
        #expect(!Sys.drain(s, into: &inbox), "the peer closed: gone")
        Sys.close(s)
        #expect(throws: SysError("bind", String(repeating: "x", count: 200), code: ENAMETOOLONG)) {
            try Sys.connectUnix(String(repeating: "x", count: 200))
        }
    }

    @Test("a TCP listener on port 0 reports the port the kernel gave; a port in use is refused naming host and port")
    func tcp() throws {
        let (fd, port) = try Sys.listenTCP(host: "127.0.0.1", port: 0)
        defer { Sys.close(fd) }
        #expect(port > 0)
        #expect(throws: SysError("bind", "127.0.0.1:\(port)", code: EADDRINUSE)) { try Sys.listenTCP(host: "127.0.0.1", port: port) }
    }
}
