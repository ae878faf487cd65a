// Starts the console on the profile's port (a serial device or, in development, a
// pseudo-terminal) and, if asked, a local Unix socket. Every session is a thread of its own.

import Foundation
import LaneHAL

public final class ConsoleServer: @unchecked Sendable {
    public static let socketSessionsMax = 4
    let hub: ConsoleHub
    let stop: @Sendable () -> Bool
    let lock = NSLock()
    var socketSessions = 0
    /// The terminal device of the pseudo-terminal (nil for a serial port or no console).
    public private(set) var ptyPath: String?

    public init(hub: ConsoleHub, stop: @escaping @Sendable () -> Bool) {
        self.hub = hub
        self.stop = stop
    }

    /// Opens the ports (errors are the profile's or the system's, with the device named).
    public func start() throws {
        let cfg = hub.profile.console
        switch cfg.port {
        case let .serial(device, baud)?:
            let fd = try Terminal.openSerial(device, baud: baud)
            hub.log("console: serial \(device) at \(baud) baud, 8N1")
            startSession(fd: fd, place: "serial \(device)", closesOnExit: false)
        case let .pty(link)?:
            let (master, keep, path) = try Terminal.openPseudoTerminal(link: link)
            _ = keep  // held open for the agent's lifetime (see Terminal.openPseudoTerminal)
            ptyPath = path
            hub.log("console: pseudo-terminal \(path), linked at \(link) (picocom \(link))")
            startSession(fd: master, place: "pty \(link)", closesOnExit: false)
        case nil:
            break
        }
        if let path = cfg.socket {
            let listener = try Terminal.listenUnix(path)
            hub.log("console: Unix socket \(path) (socat -,raw,echo=0 UNIX-CONNECT:\(path))")
            startThread(name: "console-accept") { [self] in self.accept(listener) }
        }
    }

    func startSession(fd: Int32, place: String, closesOnExit: Bool) {
        let session = ConsoleSession(hub: hub, fd: fd, place: place, closesOnExit: closesOnExit, stop: stop)
        startThread(name: "console") { session.run() }
    }

    func accept(_ listener: Int32) {
        while !stop() {
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 250) > 0 else { continue }
            let c = Glibc.accept(listener, nil, nil)
            guard c >= 0 else { continue }
            _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            lock.lock()
            let full = socketSessions >= Self.socketSessionsMax
            if !full { socketSessions += 1 }
            lock.unlock()
            if full {
                let msg = Array("console: \(Self.socketSessionsMax) sessions are open already; try later\r\n".utf8)
                _ = msg.withUnsafeBytes { Terminal.write(c, $0, timeoutMs: 100) }
                close(c)
                hub.count { $0.socketSessionsRefused += 1 }
                continue
            }
            let session = ConsoleSession(hub: hub, fd: c, place: "socket", closesOnExit: true, stop: stop)
            startThread(name: "console-socket") { [self] in
                session.run()
                close(c)
                self.lock.lock(); self.socketSessions -= 1; self.lock.unlock()
            }
        }
        close(listener)
    }
}
