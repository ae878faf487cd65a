// Process helpers for the integration tests: the real executables, started as separate
// processes, talking real Modbus (TCP, RTU on a pty) and the GPIO socket.

import Foundation
import Testing

let packageRoot: String = {
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
        dir = dir.deletingLastPathComponent()
    }
    return dir.path
}()

/// Where `swift build` put the executables: next to the test bundle, or LANE_BIN_DIR.
let binDir: String = {
    if let d = ProcessInfo.processInfo.environment["LANE_BIN_DIR"] { return d }
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent().path,
        packageRoot + "/.build/debug",
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/lane-agent") } ?? packageRoot + "/.build/debug"
}()

/// The time limit of every integration suite: longer than the whole suite takes. Swift Testing
/// runs test bodies on the concurrency runtime's cooperative pool, as wide as the machine has
/// cores (2 in CI), and these bodies block (processes, sleeps): a test can wait behind two long
/// ones for minutes after its clock started. Per-suite limits of 2 to 4 minutes made short tests
/// (a 3 s panel contract check) fail as "over 120 s" in full runs. A hang is still caught here,
/// and every wait inside a test has its own deadline (`Child.wait`, `waitFor`).
let integrationTimeLimit = TimeLimitTrait.Duration.minutes(25)

/// A scratch directory per test, removed by nobody (under /tmp, small).
/// Once per test process: a write to a socket whose peer has gone (an agent that ended, a
/// console session closed by `exit`) must fail with EPIPE, not kill the whole test run with
/// SIGPIPE (a clean-clone run died of it once). Every integration test makes a scratch directory.
let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

func scratch(_ name: String) -> String {
    _ = ignoreBrokenPipes
    let d = NSTemporaryDirectory() + "lane-it-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// A free TCP port on loopback (bound and released; the simulator binds it right after).
func freePort() -> Int {
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(s) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

final class Child {
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    init(_ executable: String, _ args: [String], dir: String, name: String, stdin: String? = nil, cwd: String = packageRoot,
         environment: [String: String] = [:]) throws {
        stdoutPath = dir + "/\(name).out"
        stderrPath = dir + "/\(name).err"
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : binDir + "/" + executable)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = stdin.map { FileHandle(forReadingAtPath: $0)! } ?? FileHandle.nullDevice
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        try process.run()
    }

    /// The child's exit as the kernel reports it, without reaping it: nil while it runs; its
    /// exit status, or the signal that ended it (Foundation's `terminationStatus` convention).
    /// Foundation's own view (`isRunning`) comes from a monitoring thread that, in a full
    /// parallel run, noticed an exit tens of seconds late; `waitid` with `WNOWAIT` asks the
    /// kernel directly and leaves the child for Foundation to reap.
    func exitStatus() -> Int32? {
        var info = siginfo_t()
        if waitid(P_PID, id_t(process.processIdentifier), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
            guard info._sifields._sigchld.si_pid != 0 else { return nil }  // still running
            return info._sifields._sigchld.si_status
        }
        // Already reaped by Foundation: its record is complete.
        return process.isRunning ? nil : process.terminationStatus
    }

    var hasExited: Bool { exitStatus() != nil }

    /// Waits for exit, at most `timeoutS`; kills the process after that. -1 when it had to be killed.
    @discardableResult
    func wait(timeoutS: Double) -> Int32 {
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        while !hasExited && Date() < deadline { usleep(50_000) }
        if let status = exitStatus() { return status }
        process.terminate()
        usleep(500_000)
        if !hasExited { kill(process.processIdentifier, SIGKILL) }
        return -1
    }

    /// `wait` for async tests: the test's thread goes back to the pool while the child runs
    /// (the pool is as wide as the machine has cores; a blocked test holds one of them).
    func finish(timeoutS: Double) async -> Int32 {
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        while !hasExited && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return wait(timeoutS: 0)
    }

    /// SIGTERM, then SIGKILL after 5 s: a child that does not stop never hangs the test.
    func stop() {
        if !hasExited { process.terminate() }
        let deadline = Date(timeIntervalSinceNow: 5)
        while !hasExited && Date() < deadline { usleep(20_000) }
        if !hasExited { kill(process.processIdentifier, SIGKILL) }
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func jsonLines() -> [[String: Any]] {
        stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

/// Sleeps without holding one of the concurrency pool's few threads (see `Child.finish`).
func pause(_ seconds: Double) async {
    try? await Task.sleep(for: .milliseconds(Int(seconds * 1_000)))
}

/// Waits until `path` exists (a socket or a link the simulator makes).
func waitFor(_ path: String, timeoutS: Double = 10) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeoutS)
    while Date() < deadline {
        if FileManager.default.fileExists(atPath: path) { return true }
        usleep(20_000)
    }
    return false
}

func readJSONLines(_ path: String) -> [[String: Any]] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
        .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

func int64(_ v: Any?) -> Int64 { (v as? NSNumber)?.int64Value ?? -1 }
func double(_ v: Any?) -> Double { (v as? NSNumber)?.doubleValue ?? .nan }

/// A program outside the package (the mosquitto broker), spawned with SIGTERM and SIGINT
/// unblocked and at their defaults: test runners hand their children these signals blocked, and
/// a broker that ignores SIGTERM cannot be stopped and restarted.
final class External {
    let pid: pid_t
    let logPath: String

    init(_ path: String, _ args: [String], log: String) throws {
        logPath = log
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The broker must not inherit the test process's other descriptors: tests run in
        // parallel, and a broker started while the console test held its pseudo-terminal's
        // master open kept that terminal from ever hanging up (a flaky console test). Glibc's
        // addclosefrom is not visible from Swift, so every descriptor above stderr is marked
        // close-on-exec first (harmless to the tests that use them).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) }
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attr, argv, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
        pid = child
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 10 s).
    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<200 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}

/// Connects to a TCP port on loopback (retrying while the server starts) and keeps everything it
/// receives until `finish`.
final class LineReader: @unchecked Sendable {
    let lock = NSLock()
    var data = Data()
    var done = false
    let finished = DispatchSemaphore(value: 0)

    init(port: Int) {
        Thread.detachNewThread { [self] in
            var fd: Int32 = -1
            for _ in 0..<100 {
                fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = in_port_t(UInt16(port).bigEndian)
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                if rc == 0 { break }
                close(fd); fd = -1
                usleep(100_000)
            }
            var buf = [UInt8](repeating: 0, count: 65_536)
            while fd >= 0 {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if n <= 0 { break }
                lock.lock(); data.append(contentsOf: buf[0..<n]); lock.unlock()
            }
            if fd >= 0 { close(fd) }
            finished.signal()
        }
    }

    /// Waits for the server to close the connection (at most 10 s) and returns the text.
    func finish() -> String {
        _ = finished.wait(timeout: .now() + 10)
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

/// An empty lane for ten minutes: these tests measure the panels, not trucks, and must not
/// depend on how fast a loaded machine gets through them (a clean-clone run once took 77 s to
/// reach the agent, and console.yaml's 80 s scenario had ended: the counters stood still).
func emptyLaneScenario(_ dir: String) throws -> String {
    let path = dir + "/empty.yaml"
    try "name: empty-lane\nseed: 5\ndurationS: 600\nvehicles: []\n".write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Sends one fault command to the simulator's control socket in `dir` and waits for its answer
/// (one command per connection, as the control socket takes them).
func simulatorFault(_ dir: String, _ command: String) throws {
    try simulatorControl(dir, "fault " + command, reply: "OK fault", timeoutS: 20)
}

/// A line to the simulator's control socket (`lane-sim serve --control-socket DIR/control.sock`),
/// waiting for its reply.
func simulatorControl(_ dir: String, _ line: String, reply: String, timeoutS: Double = 5) throws {
    let control = try ConsoleTerminal(socket: dir + "/control.sock")
    control.send(line + "\n")
    _ = control.expect(reply, timeoutS: timeoutS)
}
