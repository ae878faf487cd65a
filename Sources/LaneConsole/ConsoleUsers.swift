// Technician logins: a password file of `name:hash` lines (crypt(3) hashes, never a clear
// password), a delay after every failure and a lock-out after several, shared by every console
// port so that a second terminal does not get fresh tries.

import Foundation
import LaneAgent
import LaneHAL

public struct ConsoleUsersFile: Sendable {
    public var hashes: [String: String] = [:]

    /// Reads the file; an error names the file and the line.
    public static func load(_ path: String) throws -> ConsoleUsersFile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ProfileError("\(path): cannot read the console password file (create it with `lane-agent passwd USER --file \(path)`)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> ConsoleUsersFile {
        var f = ConsoleUsersFile()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ProfileError("\(file):\(i + 1): expected name:hash") }
            let name = parts[0], hash = parts[1]
            guard isValidName(name) else {
                throw ProfileError("\(file):\(i + 1): user name '\(name)': use 1 to 32 letters, digits, '-' or '_'")
            }
            guard hash.hasPrefix("$"), hash.split(separator: "$").count >= 3 else {
                throw ProfileError("\(file):\(i + 1): \(name): the hash is not in crypt(3) form ($y$... or $6$...); set it with `lane-agent passwd \(name) --file \(file)`")
            }
            guard f.hashes[name] == nil else { throw ProfileError("\(file):\(i + 1): \(name) appears twice") }
            f.hashes[name] = hash
        }
        return f
    }

    public static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 32 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }

    /// The file's text with `name` set to `hash` (added or replaced), other lines kept.
    public static func setting(_ name: String, hash: String, in text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        if let i = lines.firstIndex(where: { $0.hasPrefix(name + ":") }) { lines[i] = name + ":" + hash } else { lines.append(name + ":" + hash) }
        return lines.joined(separator: "\n") + "\n"
    }
}

public final class ConsoleAuth: @unchecked Sendable {
    let config: ConsoleConfig
    let lock = NSLock()
    var failures = 0
    var lockedUntilUs: Int64 = 0
    public private(set) var failedLogins = 0
    public private(set) var lockouts = 0

    public init(config: ConsoleConfig) { self.config = config }

    public enum Outcome: Equatable, Sendable {
        case ok
        case wrong
        /// Too many failures: no tries until then (seconds left).
        case lockedOut(secondsLeft: Int)
        case noUsersFile(String)
    }

    /// Checks a login. Reads the password file each time (a changed file takes effect at once).
    /// A failure is answered only after the configured delay; the caller's thread waits it out.
    public func check(user: String, password: String) -> Outcome {
        let now = MonotonicClock.nowUs()
        lock.lock()
        if now < lockedUntilUs {
            let left = Int((lockedUntilUs - now + 999_999) / 1_000_000)
            lock.unlock()
            return .lockedOut(secondsLeft: left)
        }
        lock.unlock()
        let file: ConsoleUsersFile
        do {
            guard let path = config.usersFile else { return .noUsersFile("this board has no console password file (console.users)") }
            file = try ConsoleUsersFile.load(path)
        } catch {
            return .noUsersFile("\(error)")
        }
        // Verify even for an unknown user (same work, same delay: no hint which names exist).
        let hash = file.hashes[user] ?? "$6$lanesalt$unknownuserunknownuserunknownuserunknownuserunknownuser0"
        let ok = PasswordHash.verify(password, against: hash) && file.hashes[user] != nil
        if ok {
            lock.lock(); failures = 0; lock.unlock()
            return .ok
        }
        MonotonicClock.sleep(untilUs: MonotonicClock.nowUs() + config.failureDelayUs)
        lock.lock(); defer { lock.unlock() }
        failures += 1
        failedLogins += 1
        if failures >= config.lockoutAfterFailures {
            failures = 0
            lockouts += 1
            lockedUntilUs = MonotonicClock.nowUs() + config.lockoutUs
            return .lockedOut(secondsLeft: Int(config.lockoutUs / 1_000_000))
        }
        return .wrong
    }
}
