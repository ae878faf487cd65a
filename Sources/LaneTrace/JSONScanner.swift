// A small JSON scanner over bytes for the lane trace's flat objects. It reads one object per
// line without building a document tree, so replay reads hundreds of thousands of lines per
// second; keys it does not know are skipped whole (any JSON value), as the contract demands.

struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    enum Failure: Error { case syntax(String) }

    var atEnd: Bool { i >= bytes.count }

    mutating func skipSpace() {
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A { i += 1 } else { break }
        }
    }

    func describeHere() -> String {
        if i >= bytes.count { return "end of line" }
        let b = bytes[i]
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))' at column \(i + 1)" }
        return "byte 0x\(String(b, radix: 16)) at column \(i + 1)"
    }

    mutating func expect(_ c: UInt8, _ what: String) throws(Failure) {
        skipSpace()
        guard i < bytes.count, bytes[i] == c else { throw .syntax("expected \(what), found \(describeHere())") }
        i += 1
    }

    /// Peeks the next non-space byte.
    mutating func peek() -> UInt8? {
        skipSpace()
        return i < bytes.count ? bytes[i] : nil
    }

    /// Reads a string's raw bytes (escapes are kept as written; keys and the values the trace
    /// uses never need them). Returns the byte range inside the quotes.
    mutating func rawString() throws(Failure) -> Range<Int> {
        try expect(0x22, "a string")
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x22 { i += 1; return start..<(i - 1) }
            if b == 0x5C { i += 2; continue }
            if b < 0x20 { throw .syntax("control character inside a string at column \(i + 1)") }
            i += 1
        }
        throw .syntax("unterminated string")
    }

    /// A string with its escapes decoded (\" \\ \/ \b \f \n \r \t \uXXXX).
    mutating func string() throws(Failure) -> String {
        let r = try rawString()
        var out: [UInt8] = []
        out.reserveCapacity(r.count)
        var k = r.lowerBound
        while k < r.upperBound {
            let b = bytes[k]
            guard b == 0x5C else { out.append(b); k += 1; continue }
            guard k + 1 < r.upperBound else { throw .syntax("bad escape at column \(k + 1)") }
            let e = bytes[k + 1]
            k += 2
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                guard k + 4 <= r.upperBound,
                      let v = UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[k..<(k + 4)]), as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(v)
                else { throw .syntax("bad \\u escape at column \(k - 1)") }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
                k += 4
            default: throw .syntax("bad escape '\\\(Character(Unicode.Scalar(e)))' at column \(k - 1)")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    func equals(_ r: Range<Int>, _ s: StaticString) -> Bool {
        guard r.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for k in 0..<r.count where bytes[r.lowerBound + k] != p[k] { return false }
        return true
    }

    /// A JSON integer (no fraction, no exponent) that fits in Int64.
    mutating func integer() throws(Failure) -> Int64 {
        skipSpace()
        let start = i
        var negative = false
        if i < bytes.count && bytes[i] == 0x2D { negative = true; i += 1 }
        var value: Int64 = 0
        var digits = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - 0x30))
            if o1 || o2 { throw .syntax("integer too large at column \(start + 1)") }
            value = a
            digits += 1
            i += 1
        }
        if digits == 0 { i = start; throw .syntax("expected an integer, found \(describeHere())") }
        if i < bytes.count, bytes[i] == 0x2E || bytes[i] == 0x65 || bytes[i] == 0x45 {
            i = start
            throw .syntax("expected a whole number, found a fraction or exponent at column \(start + 1)")
        }
        return negative ? -value : value
    }

    /// Any JSON number, as Double (header fields only; never on the per-sample path).
    mutating func number() throws(Failure) -> Double {
        skipSpace()
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            if (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2B || b == 0x2E || b == 0x65 || b == 0x45 { i += 1 } else { break }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else { i = start; throw .syntax("expected a number, found \(describeHere())") }
        return d
    }

    mutating func bool() throws(Failure) -> Bool {
        skipSpace()
        if matchWord("true") { return true }
        if matchWord("false") { return false }
        throw .syntax("expected true or false, found \(describeHere())")
    }

    mutating func matchWord(_ w: StaticString) -> Bool {
        let n = w.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        let p = w.utf8Start
        for k in 0..<n where bytes[i + k] != p[k] { return false }
        i += n
        return true
    }

    /// Skips any JSON value (for unknown keys), nesting bounded by `depthMax`.
    mutating func skipValue(depth: Int = 0) throws(Failure) {
        guard depth < 32 else { throw .syntax("nesting deeper than 32 levels") }
        guard let b = peek() else { throw .syntax("expected a value, found end of line") }
        switch b {
        case 0x22: _ = try rawString()
        case 0x7B:
            i += 1
            if peek() == 0x7D { i += 1; return }
            while true {
                _ = try rawString()
                try expect(0x3A, "':'")
                try skipValue(depth: depth + 1)
                guard let c = peek() else { throw .syntax("unterminated object") }
                i += 1
                if c == 0x7D { return }
                if c != 0x2C { i -= 1; throw .syntax("expected ',' or '}', found \(describeHere())") }
            }
        case 0x5B:
            i += 1
            if peek() == 0x5D { i += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                guard let c = peek() else { throw .syntax("unterminated array") }
                i += 1
                if c == 0x5D { return }
                if c != 0x2C { i -= 1; throw .syntax("expected ',' or ']', found \(describeHere())") }
            }
        case 0x74, 0x66: _ = try bool()
        case 0x6E:
            if !matchWord("null") { throw .syntax("expected a value, found \(describeHere())") }
        default: _ = try number()
        }
    }

    /// Iterates the members of one object, calling `body` with each key's byte range; `body`
    /// must consume the value. Ends at the closing brace and demands nothing but space after it.
    mutating func object(_ body: (inout JSONScanner, Range<Int>) throws(Failure) -> Void) throws(Failure) {
        try expect(0x7B, "'{' (each line is one JSON object)")
        if peek() == 0x7D {
            i += 1
        } else {
            while true {
                let key = try rawString()
                try expect(0x3A, "':'")
                try body(&self, key)
                guard let c = peek() else { throw .syntax("unterminated object: expected ',' or '}'") }
                i += 1
                if c == 0x7D { break }
                if c != 0x2C { i -= 1; throw .syntax("expected ',' or '}', found \(describeHere())") }
            }
        }
        skipSpace()
        if !atEnd { throw .syntax("unexpected \(describeHere()) after the object") }
    }
}
