// A PostgreSQL server on loopback for the tests (Debian's postgresql-15, installed by
// scripts/setup.sh): a cluster made with initdb in a scratch directory, started with pg_ctl on a
// free port, one database per test, stopped when the test process exits. PostgreSQL refuses to
// run as root, so as root it runs as the `postgres` user the package made.

import Foundation

public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    static let bin = "/usr/lib/postgresql/15/bin"

    /// The test process's server, started at first use.
    public static let shared: Result<PostgresServer, PostgresServerError> = {
        do { return .success(try PostgresServer()) } catch let e as PostgresServerError { return .failure(e) } catch {
            return .failure(PostgresServerError(message: "\(error)"))
        }
    }()

    init() throws {
        let asRoot = getuid() == 0
        directory = NSTemporaryDirectory() + "lane-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if asRoot {
            guard let pw = getpwnam("postgres") else { throw PostgresServerError(message: "no 'postgres' user (install postgresql: scripts/setup.sh)") }
            chown(directory, pw.pointee.pw_uid, pw.pointee.pw_gid)
        }
        port = Self.freePort()
        try Self.run(asRoot, Self.bin + "/initdb", ["-D", directory + "/data", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"])
        try Self.run(asRoot, Self.bin + "/pg_ctl", ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-o",
                                                    "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start"])
        let dir = directory
        atexit_handlers.append { _ = try? PostgresServer.run(asRoot, PostgresServer.bin + "/pg_ctl", ["-D", dir + "/data", "-m", "immediate", "stop"]) }
        if atexit_handlers.count == 1 { atexit { for h in atexit_handlers { h() } } }
    }

    /// A new, empty database; its libpq connection string.
    public func createDatabase() throws -> String {
        let name = "lanes_\(UInt32.random(in: 0...UInt32.max))_\(UInt32.random(in: 0...UInt32.max))"
        try Self.run(false, "/usr/bin/psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-q", "-c", "CREATE DATABASE \(name)"])
        return "host=127.0.0.1 port=\(port) user=postgres dbname=\(name)"
    }

    /// Runs a command (as `postgres` when asked), throwing with its output when it fails.
    /// posix_spawn and waitpid, output to a file: the server pg_ctl starts stays behind, and
    /// Foundation's Process waited on it.
    @discardableResult
    static func run(_ asPostgres: Bool, _ path: String, _ args: [String]) throws -> String {
        // In /tmp: the postgres user may not enter the test's directory.
        let argv0 = ["/usr/bin/env", "-C", "/tmp"] + (asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--", path] + args : [path] + args)
        let outPath = NSTemporaryDirectory() + "lane-pg-out-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = argv0.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv0[0], &actions, &attr, argv, environ)
        guard rc == 0 else { throw PostgresServerError(message: "cannot start \(argv0[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        guard status == 0 else { throw PostgresServerError(message: "\((path as NSString).lastPathComponent) \(args.joined(separator: " ")): \(text)") }
        return text
    }

    static func freePort() -> Int {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

nonisolated(unsafe) var atexit_handlers: [() -> Void] = []

public struct PostgresServerError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { "PostgreSQL for the tests: \(message)" }
}
