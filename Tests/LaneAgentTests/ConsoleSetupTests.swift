// Proves the console's set-up pieces: the profile's console section refused with file, line and
// key when wrong; the password file read strictly; crypt(3) hashes from `openssl passwd -6` and
// from our own `passwd` verified (and wrong passwords refused); tunables read strictly; `save`
// rewriting only the changed values in place and refusing what would not read back.

import Foundation
import LaneAgent
import LaneConsole
import LaneCore
import LaneHAL
import Testing

@Suite struct ConsoleSetupTests {
    @Test("a broken console section is refused with the line, the key and what was expected", arguments: [
        ("  device: pty", "  device: ttyS0", "console.device: expected none, pty or the path of a serial device"),
        ("  device: pty", "  device: /dev/ttyS0", "console.link: only for device: pty"),
        ("  link: /tmp/lane-agent/LANE-01/console ", "  link: /tmp/x\n  baud: 9600", "console.baud: a pseudo-terminal has no baud rate"),
        ("  users: console-users.sim", "  userz: console-users.sim", "console.userz: unknown key"),
        ("  users: console-users.sim", "  failureDelayS: 1", "console.users: a console needs the technicians' password file"),
        ("  device: pty", "  device: pty\n  lockoutAfterFailures: 0", "console.lockoutAfterFailures: 0 is out of range (1 to 100)"),
    ])
    func brokenConsole(find: String, replace: String, expected: String) {
        #expect(simProfile.contains(find), "the fixture lost '\(find)'")
        let message = profileError(simProfile.replacingOccurrences(of: find, with: replace))
        #expect(message?.contains(expected) == true, "got: \(message ?? "accepted")")
        #expect(message?.hasPrefix("test.yaml:") == true)
    }

    @Test("a serial console: the device and a standard baud rate (8N1); other speeds refused")
    func serialConsole() throws {
        let head = simProfile.components(separatedBy: "\nconsole:")[0]
        let ok = try parse(head + "\nconsole:\n  device: /dev/ttyS1\n  baud: 38400\n  users: /etc/lane-agent/users\n")
        #expect(ok.console.port == .serial(device: "/dev/ttyS1", baud: 38400))
        #expect(ok.console.usersFile == "/etc/lane-agent/users")
        let bad = profileError(head + "\nconsole:\n  device: /dev/ttyS1\n  baud: 12345\n  users: u\n")
        #expect(bad?.contains("console.baud: 12345 is not a standard speed") == true, "got \(bad ?? "accepted")")
        let none = try parse(head)
        #expect(none.console.port == nil && none.console.socket == nil)
    }

    @Test("the sim profile's console: a pty, a socket, the password file next to the profile")
    func simConsole() throws {
        let p = try BoardProfile.load(path: packageRoot + "/Boards/sim.yaml")
        #expect(p.console.port == .pty(link: "/tmp/lane-agent/LANE-01/console"))
        #expect(p.console.socket == "/tmp/lane-agent/LANE-01/console.sock")
        #expect(p.console.usersFile == packageRoot + "/Boards/console-users.sim")
        #expect(p.console.failureDelayUs == 2_000_000 && p.console.lockoutAfterFailures == 5)
    }

    @Test("the password file: comments and blank lines skipped; a bad line is refused with its number")
    func usersFile() throws {
        let good = "# technicians\n\ntech:$6$saltsalt$abc\nanna_2:$y$j9T$x$y\n"
        let f = try ConsoleUsersFile.parse(good, file: "users")
        #expect(f.hashes.keys.sorted() == ["anna_2", "tech"])
        for (text, expected) in [
            ("tech\n", "users:1: expected name:hash"),
            ("tech:secret\n", "users:1: tech: the hash is not in crypt(3) form"),
            ("# x\nbad name:$6$a$b\n", "users:2: user name 'bad name'"),
            ("tech:$6$a$b\ntech:$6$c$d\n", "users:2: tech appears twice"),
        ] {
            #expect(throws: ProfileError.self) { try ConsoleUsersFile.parse(text, file: "users") }
            do { _ = try ConsoleUsersFile.parse(text, file: "users") } catch {
                #expect("\(error)".contains(expected), "got \(error)")
            }
        }
        #expect(ConsoleUsersFile.setting("tech", hash: "$6$n$h", in: good).contains("tech:$6$n$h\n"))
        #expect(ConsoleUsersFile.setting("new", hash: "$6$n$h", in: good).hasSuffix("new:$6$n$h\n"))
    }

    @Test("hashes from `openssl passwd -6` and from our own passwd verify; wrong passwords and non-hashes do not")
    func hashes() throws {
        let openssl = "$6$saltsalt$7ITvs1XkI8NWi/I1DEiypD/Dx6Q6QRZ6k1iRvMOWgRpPN4Z/IFGnl32Rp2ucvjX8V/gN.ELvc3Zk2hSQTwdex1"
        #expect(PasswordHash.verify("lane-demo-1", against: openssl))
        #expect(!PasswordHash.verify("lane-demo-2", against: openssl))
        let mine = try #require(PasswordHash.make("correct horse"))
        #expect(mine.hasPrefix("$y$"))
        #expect(PasswordHash.verify("correct horse", against: mine))
        #expect(!PasswordHash.verify("correct hors", against: mine))
        #expect(PasswordHash.make("correct horse") != mine, "a new salt every time")
        #expect(!PasswordHash.verify("", against: "!"))
        #expect(!PasswordHash.verify("x", against: ""))
        // The shipped demo file's hash is the documented demo password.
        let users = try ConsoleUsersFile.load(packageRoot + "/Boards/console-users.sim")
        #expect(PasswordHash.verify("lane-demo-1", against: users.hashes["tech"]!))
    }

    @Test("tunables are read strictly, with the reason when refused")
    func tunables() {
        let g = Tunable.named("gammaSigma")!
        #expect(Tunable.named("detection.gammaSigma")?.key == "gammaSigma")
        if case let .success(v) = g.parse("6.5") { #expect(v == 650) } else { Issue.record("6.5 refused") }
        for (text, expected) in [("6.555", "at most 2 digits"), ("0.5", "out of range: 1 to 50 sigma"), ("six", "expected a number"),
                                 ("6,5", "expected a number"), ("+6", "expected a number"), ("6e0", "expected a number")] {
            guard case let .failure(e) = g.parse(text) else { Issue.record("\(text) accepted"); continue }
            #expect(e.message.contains(expected), "\(text): \(e.message)")
        }
        let b = Tunable.named("normDiscrimination")!
        if case .failure = b.parse("false") { Issue.record("false refused") }
        if case .success = b.parse("1") { Issue.record("1 accepted for a bool") }
        let n = Tunable.named("neutronMinExcessCounts")!
        if case let .failure(e) = n.parse("4.5") { #expect(e.message.contains("a whole number")) } else { Issue.record("4.5 accepted") }
        #expect(g.format(650) == "6.5" && g.format(700) == "7" && g.format(725) == "7.25")
    }

    @Test("save rewrites only the changed values in place (comments kept), adds a missing key under its section, and reads back")
    func profileEditor() throws {
        let original = try BoardProfile.parse(simProfile, file: "test.yaml", mapDirectory: packageRoot + "/Boards/panels")
        var v = TunableValues(original)
        Tunable.named("gammaSigma")!.apply(650, to: &v)
        Tunable.named("sirenS")!.apply(25, to: &v)
        Tunable.named("normDiscrimination")!.apply(0, to: &v)
        let text = try ProfileEditor.rewrite(simProfile, file: "test.yaml", to: v)
        #expect(text.contains("  gammaSigma: 6.5\n"))
        #expect(text.contains("  sirenS: 2.5\n"))
        #expect(text.contains("  normDiscrimination: false\n"))
        #expect(text.contains("  lockMemory: true\n"), "untouched lines stay")
        let changedLines = zip(simProfile.split(separator: "\n", omittingEmptySubsequences: false), text.split(separator: "\n", omittingEmptySubsequences: false)).filter { $0 != $1 }
        #expect(changedLines.count == 3, "only the three values changed: \(changedLines)")
        // A key the file does not have goes under its section.
        let without = simProfile.replacingOccurrences(of: "  neutronMinExcessCounts: 4\n", with: "")
        var w = TunableValues(try BoardProfile.parse(without, file: "test.yaml", mapDirectory: packageRoot + "/Boards/panels"))
        Tunable.named("neutronMinExcessCounts")!.apply(9, to: &w)
        let added = try ProfileEditor.rewrite(without, file: "test.yaml", to: w)
        let reread = try BoardProfile.parse(added, file: "test.yaml", mapDirectory: packageRoot + "/Boards/panels")
        #expect(reread.engine.neutronExcessMin == 9)
        #expect(added.contains("  neutronMinExcessCounts: 9\n"))
        // A section the file does not have is appended.
        let noOutputs = simProfile.replacingOccurrences(of: "outputs:\n  sirenS: 5\n  alarmLightHoldS: 10\n", with: "")
        #expect(noOutputs != simProfile)
        var o = TunableValues(try BoardProfile.parse(noOutputs, file: "test.yaml", mapDirectory: packageRoot + "/Boards/panels"))
        Tunable.named("alarmLightHoldS")!.apply(300, to: &o)
        let appended = try ProfileEditor.rewrite(noOutputs, file: "test.yaml", to: o)
        #expect(try BoardProfile.parse(appended, file: "test.yaml", mapDirectory: packageRoot + "/Boards/panels").alarmLightHoldUs == 30_000_000)
    }
}
