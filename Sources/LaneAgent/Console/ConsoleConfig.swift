// The board profile's `console` section (docs/BOARD-PROFILES.md, docs/CONSOLE.md).

import Foundation

public struct ConsoleConfig: Sendable, Equatable {
    public enum Port: Sendable, Equatable {
        /// A serial device in raw mode (the pillar's service port).
        case serial(device: String, baud: Int)
        /// A pseudo-terminal whose terminal side is linked at `link` (development, the sim boards).
        case pty(link: String)
    }
    public var port: Port?
    /// A local Unix socket as well (someone logged in over SSH: `socat -,raw,echo=0 UNIX:path`).
    public var socket: String?
    /// The technicians' password file: `name:hash` lines (crypt(3) hashes; `lane-agent passwd`).
    public var usersFile: String?
    public var failureDelayUs: Int64 = 2_000_000
    public var lockoutAfterFailures = 5
    public var lockoutUs: Int64 = 300_000_000
    /// A technician is logged out after this long without input.
    public var idleLogoutUs: Int64 = 900_000_000
    /// The check source (`sourcecheck`): net counts per second a panel must see, how long to measure.
    public var checkSourceMinNetCps: Int = 200
    public var checkSourceMeasureUs: Int64 = 10_000_000
    /// `beams` flags a beam blocked for longer than this as possibly stuck.
    public var beamStuckAfterUs: Int64 = 600_000_000
    public init() {}

    static let keys = ["device", "link", "baud", "socket", "users", "failureDelayS", "lockoutAfterFailures", "lockoutS",
                       "idleLogoutS", "checkSourceMinNetCps", "checkSourceMeasureS", "beamStuckAfterS"]

    static func parse(_ c: YAMLSection, profileDirectory: String) throws -> ConsoleConfig {
        try c.onlyKeys(keys)
        var cfg = ConsoleConfig()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : profileDirectory + "/" + p }
        let device = try c.string("device", default: "none")
        switch device {
        case "none":
            if c.value("link") != nil { throw c.error("link", "only for device: pty", at: c.value("link")) }
        case "pty":
            cfg.port = .pty(link: try c.string("link"))
            if c.value("baud") != nil { throw c.error("baud", "a pseudo-terminal has no baud rate; remove it or name a serial device", at: c.value("baud")) }
        default:
            guard device.hasPrefix("/") else {
                throw c.error("device", "expected none, pty or the path of a serial device such as /dev/ttyS0, found '\(device)'", at: c.value("device"))
            }
            if c.value("link") != nil { throw c.error("link", "only for device: pty", at: c.value("link")) }
            let baud = try c.int("baud", 1200...921_600, default: 115_200)
            guard [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200, 230_400, 460_800, 921_600].contains(baud) else {
                throw c.error("baud", "\(baud) is not a standard speed (9600, 19200, 38400, 57600, 115200, ...)", at: c.value("baud"))
            }
            cfg.port = .serial(device: device, baud: baud)
        }
        if c.value("socket") != nil { cfg.socket = try c.string("socket") }
        if c.value("users") != nil { cfg.usersFile = resolve(try c.string("users")) }
        cfg.failureDelayUs = Int64(try c.double("failureDelayS", 0...60, default: 2) * 1e6)
        cfg.lockoutAfterFailures = try c.int("lockoutAfterFailures", 1...100, default: 5)
        cfg.lockoutUs = Int64(try c.double("lockoutS", 1...86_400, default: 300) * 1e6)
        cfg.idleLogoutUs = Int64(try c.double("idleLogoutS", 10...86_400, default: 900) * 1e6)
        cfg.checkSourceMinNetCps = try c.int("checkSourceMinNetCps", 1...10_000_000, default: 200)
        cfg.checkSourceMeasureUs = Int64(try c.double("checkSourceMeasureS", 1...600, default: 10) * 1e6)
        cfg.beamStuckAfterUs = Int64(try c.double("beamStuckAfterS", 10...86_400, default: 600) * 1e6)
        if cfg.port != nil || cfg.socket != nil {
            guard cfg.usersFile != nil else {
                throw c.error("users", "a console needs the technicians' password file (create one with `lane-agent passwd`)")
            }
        }
        return cfg
    }
}
