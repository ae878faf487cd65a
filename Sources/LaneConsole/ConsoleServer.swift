// Starts the console on the profile's port (a serial device or, in development, a
// pseudo-terminal) and, if asked, a local Unix socket. Every session is a thread of its own.

import Foundation
import LaneAgent
import LaneHAL

public final class ConsoleServer: @unchecked Sendable {
    public static let socketSessionsMax = 4
    let hub: ConsoleHub
    let stop: @Sendable () -> Bool
    let lock = NSLock()
    var socketSessions = 0

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
            startThread(name: "console") { [self] in self.serveSerial(device: device, baud: baud, first: fd) }
        case let .pty(link)?:
            let (master, keep, path) = try Terminal.openPseudoTerminal(link: link)
            _ = keep  // held open for the agent's lifetime (see Terminal.openPseudoTerminal)
            hub.log("console: pseudo-terminal \(path), linked at \(link) (picocom \(link))")
            startThread(name: "console") { [self] in
                // A session that ends (a hang-up) is replaced by a fresh one (logged out).
                while !self.stop() {
                    ConsoleSession(hub: self.hub, fd: master, place: "pty \(link)", closesOnExit: false, stop: self.stop).run()
                    MonotonicClock.sleep(untilUs: MonotonicClock.nowUs() + 1_000_000)
                }
            }
        case nil:
            break
        }
        if let path = cfg.socket {
            let listener = try Terminal.listenUnix(path)
            hub.log("console: Unix socket \(path) (socat -,raw,echo=0 UNIX-CONNECT:\(path))")
            startThread(name: "console-accept") { [self] in self.accept(listener) }
        }
    }

    /// The serial console for the agent's lifetime: a USB-serial adapter that is unplugged (the
    /// device reports a hang-up or vanishes) is opened again every 2 s until it is back.
    func serveSerial(device: String, baud: Int, first: Int32) {
        var fd = first
        while !stop() {
            if fd < 0 {
                do throws(TerminalError) { fd = try Terminal.openSerial(device, baud: baud) } catch {
                    MonotonicClock.sleep(untilUs: MonotonicClock.nowUs() + 2_000_000)
                    continue
                }
                hub.log("console: serial \(device) is back")
            }
            ConsoleSession(hub: hub, fd: fd, place: "serial \(device)", closesOnExit: false, stop: stop).run()
            Sys.close(fd)
            fd = -1
            if !stop() { hub.log("console: serial \(device) hung up; opening it again every 2 s") }
        }
    }

    func accept(_ listener: Int32) {
        while !stop() {
            guard let ready = try? Sys.poll(listener, events: Int16(POLLIN), timeoutMs: 250), ready != 0 else { continue }
            let c: Int32
            do throws(SysError) {
                guard let a = try Sys.accept(listener, "console socket") else { continue }
                c = a
            } catch {
                hub.log("console: \(error)")
                MonotonicClock.sleep(untilUs: MonotonicClock.nowUs() + 250_000)  // EMFILE and the like: do not spin
                continue
            }
            lock.lock()
            let full = socketSessions >= Self.socketSessionsMax
            if !full { socketSessions += 1 }
            lock.unlock()
            if full {
                let msg = Array("console: \(Self.socketSessionsMax) sessions are open already; try later\r\n".utf8)
                _ = msg.withUnsafeBytes { Terminal.write(c, $0, timeoutMs: 100) }
                Sys.close(c)
                hub.count { $0.socketSessionsRefused += 1 }
                continue
            }
            let session = ConsoleSession(hub: hub, fd: c, place: "socket", closesOnExit: true, stop: stop)
            startThread(name: "console-socket") { [self] in
                session.run()
                Sys.close(c)
                self.lock.lock(); self.socketSessions -= 1; self.lock.unlock()
            }
        }
        Sys.close(listener)
    }
}
