// Strict reading of YAML board files: every value is checked for type and range, unknown keys
// are refused, and every error names the file, the line, the key and what was expected.

import Foundation
import Yams

public struct ProfileError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// Shared with the collector (its sharing policies): one strict YAML reader in the package.
package struct YAMLSection {
    package let file: String
    package let path: String
    package let node: Node
    package let pairs: [(key: String, value: Node)]

    package static func root(file: String, text: String) throws -> YAMLSection {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw ProfileError("\(file): not valid YAML: \(e)")
        }
        guard let node else { throw ProfileError("\(file): the file is empty") }
        return try YAMLSection(file: file, path: "", node: node)
    }

    package init(file: String, path: String, node: Node) throws {
        self.file = file
        self.path = path
        self.node = node
        guard case let .mapping(m) = node else {
            throw ProfileError("\(YAMLSection.place(file, node)): \(path.isEmpty ? "the file" : path) must be a mapping of keys to values")
        }
        var pairs: [(String, Node)] = []
        for (k, v) in m {
            guard case let .scalar(s) = k else { throw ProfileError("\(YAMLSection.place(file, k)): keys must be plain words") }
            if pairs.contains(where: { $0.0 == s.string }) {
                throw ProfileError("\(YAMLSection.place(file, k)): \(YAMLSection.join(path, s.string)): the key appears twice")
            }
            pairs.append((s.string, v))
        }
        self.pairs = pairs
    }

    package static func place(_ file: String, _ node: Node?) -> String {
        if let m = node?.mark { return "\(file):\(m.line):\(m.column)" }
        return file
    }

    package static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "." + b }

    package func key(_ k: String) -> String { Self.join(path, k) }

    package func error(_ k: String, _ what: String, at node: Node? = nil) -> ProfileError {
        ProfileError("\(Self.place(file, node ?? self.node)): \(key(k)): \(what)")
    }

    /// Refuses keys not in `known`, suggesting the closest one.
    package func onlyKeys(_ known: [String]) throws {
        for (k, v) in pairs where !known.contains(k) {
            let close = known.min { editDistance($0, k) < editDistance($1, k) }
            let hint = close.map { editDistance($0, k) <= 2 ? " (did you mean '\($0)'?)" : "" } ?? ""
            throw ProfileError("\(Self.place(file, v)): \(key(k)): unknown key\(hint); known keys here: \(known.joined(separator: ", "))")
        }
    }

    package func value(_ k: String) -> Node? { pairs.first { $0.key == k }?.value }

    package func section(_ k: String, required: Bool = true) throws -> YAMLSection? {
        guard let v = value(k) else {
            if required { throw error(k, "required section is missing") }
            return nil
        }
        return try YAMLSection(file: file, path: key(k), node: v)
    }

    package func scalar(_ k: String, _ v: Node, _ what: String) throws -> String {
        guard case let .scalar(s) = v else { throw error(k, "expected \(what), found a \(v.isMapping ? "mapping" : "list")", at: v) }
        return s.string
    }

    package func string(_ k: String, default d: String? = nil) throws -> String {
        guard let v = value(k) else {
            if let d { return d }
            throw error(k, "required key is missing (expected text)")
        }
        let s = try scalar(k, v, "text")
        guard !s.isEmpty else { throw error(k, "must not be empty", at: v) }
        return s
    }

    package func oneOf(_ k: String, _ choices: [String], default d: String? = nil) throws -> String {
        let s = try string(k, default: d)
        guard choices.contains(s) else {
            throw error(k, "'\(s)' is not one of: \(choices.joined(separator: ", "))", at: value(k))
        }
        return s
    }

    package static func parseInt(_ s: String) -> Int? {
        let t = s.replacingOccurrences(of: "_", with: "")
        if t.hasPrefix("0x") || t.hasPrefix("0X") { return Int(t.dropFirst(2), radix: 16) }
        return Int(t)
    }

    package func int(_ k: String, _ range: ClosedRange<Int>, default d: Int? = nil) throws -> Int {
        guard let v = value(k) else {
            if let d { return d }
            throw error(k, "required key is missing (expected a whole number from \(range.lowerBound) to \(range.upperBound))")
        }
        return try int(k, v, range)
    }

    package func int(_ k: String, _ v: Node, _ range: ClosedRange<Int>) throws -> Int {
        let s = try scalar(k, v, "a whole number")
        guard let n = Self.parseInt(s) else { throw error(k, "expected a whole number, found '\(s)'", at: v) }
        guard range.contains(n) else {
            throw error(k, "\(n) is out of range (\(range.lowerBound) to \(range.upperBound))", at: v)
        }
        return n
    }

    package func double(_ k: String, _ range: ClosedRange<Double>, default d: Double? = nil) throws -> Double {
        guard let v = value(k) else {
            if let d { return d }
            throw error(k, "required key is missing (expected a number from \(range.lowerBound) to \(range.upperBound))")
        }
        let s = try scalar(k, v, "a number")
        guard let x = Double(s), x.isFinite else { throw error(k, "expected a number, found '\(s)'", at: v) }
        guard range.contains(x) else { throw error(k, "\(s) is out of range (\(range.lowerBound) to \(range.upperBound))", at: v) }
        return x
    }

    package func bool(_ k: String, default d: Bool) throws -> Bool {
        guard let v = value(k) else { return d }
        let s = try scalar(k, v, "true or false")
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(k, "expected true or false, found '\(s)'", at: v)
        }
    }

    package func list(_ k: String, required: Bool = true) throws -> [Node]? {
        guard let v = value(k) else {
            if required { throw error(k, "required key is missing (expected a list)") }
            return nil
        }
        guard case let .sequence(seq) = v else { throw error(k, "expected a list such as [1, 2, 3]", at: v) }
        return Array(seq)
    }
}

package func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.lowercased()), y = Array(b.lowercased())
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    for i in 1...x.count {
        var cur = [i] + Array(repeating: 0, count: y.count)
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[y.count]
}

extension Node {
    var isMapping: Bool { if case .mapping = self { return true } else { return false } }
}
