// What a gate OCR system sends, as the board profile describes it (docs/OCR.md): one message per
// read, a line of text matched by a pattern with named groups, or a small XML document whose
// element (or attribute) names the profile gives. A new vendor needs a profile, not code.

import Foundation
import CLibXML2
import LaneCore

public struct OCRFormat: Sendable {
    public enum Kind: Sendable, Equatable {
        /// One message per line (LF or CRLF); `pattern` has named groups `container`,
        /// `container2`, `confidence`, `confidence2`, `time`, `plate` (only `container` or `plate` required).
        case line(pattern: String)
        /// One XML document per message, ending with the closing tag of `root`. Field names are
        /// element names, or `@name` for an attribute of the container element (`confidence`)
        /// or of the root (`time`, `plate`).
        case xml(root: String, container: String, confidence: String?, time: String?, plate: String?)
    }
    public enum TimeFormat: String, Sendable, CaseIterable {
        /// 2026-12-02T06:30:00.123Z, or with an offset (+01:00); fractions optional.
        case iso8601
        /// Seconds since 1970 (decimals allowed).
        case unix
        /// Milliseconds since 1970.
        case unixMs
    }
    public enum ConfidenceScale: String, Sendable, CaseIterable {
        /// 0 to 100.
        case percent
        /// 0 to 1.
        case fraction
    }
    public var kind: Kind
    public var time: TimeFormat = .iso8601
    public var confidence: ConfidenceScale = .percent
    /// The longest message accepted (bytes); a longer one is refused and the stream resyncs.
    public var messageBytesMax = 4096

    /// The simulator's line format (and the default pattern): `OCR,<ISO time>,<container>,<confidence>,<container2>,<confidence2>,<plate>`.
    public static let simulatorPattern =
        "^OCR,(?<time>[^,]*),(?<container>[^,]*),(?<confidence>[^,]*),(?<container2>[^,]*),(?<confidence2>[^,]*),(?<plate>[^,]*)$"

    public init(kind: Kind) { self.kind = kind }
}

/// A message as read, before the lane's clock is applied.
public struct OCRMessage: Sendable, Equatable {
    public var numbers: [(String, UInt8)] = []
    public var plate: String? = nil
    /// The OCR's read time, Unix µs (nil: none given).
    public var readWallUs: Int64? = nil
    public var isEmpty: Bool { numbers.isEmpty && plate == nil }
    public static func == (a: OCRMessage, b: OCRMessage) -> Bool {
        a.numbers.map { $0.0 } == b.numbers.map { $0.0 } && a.numbers.map { $0.1 } == b.numbers.map { $0.1 } && a.plate == b.plate && a.readWallUs == b.readWallUs
    }
}

public struct OCRMessageError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    init(_ d: String) { description = d }
}

/// Parses messages of one format (built once; used on the OCR thread only).
public final class OCRMessageParser: @unchecked Sendable {
    public let format: OCRFormat
    let regex: NSRegularExpression?
    let groups: Set<String>

    public init(_ format: OCRFormat) throws {
        self.format = format
        switch format.kind {
        case let .line(pattern):
            do { regex = try NSRegularExpression(pattern: pattern) } catch {
                throw ProfileError("ocr.pattern: not a valid regular expression: \(pattern)")
            }
            let names = ["container", "container2", "confidence", "confidence2", "time", "plate"]
            groups = Set(names.filter { pattern.contains("(?<\($0)>") })
            guard groups.contains("container") || groups.contains("plate") else {
                throw ProfileError("ocr.pattern: needs a named group (?<container>...) (or (?<plate>...))")
            }
        case .xml:
            regex = nil
            groups = []
        }
    }

    /// One message's text (a line without its end, or one XML document).
    public func parse(_ text: String) -> Result<OCRMessage, OCRMessageError> {
        switch format.kind {
        case .line: return parseLine(text)
        case let .xml(root, container, confidence, time, plate): return parseXML(text, root: root, container: container, confidence: confidence, time: time, plate: plate)
        }
    }

    func parseLine(_ text: String) -> Result<OCRMessage, OCRMessageError> {
        let ns = text as NSString
        guard let m = regex!.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)) else {
            return .failure(OCRMessageError("does not match ocr.pattern"))
        }
        func group(_ name: String) -> String? {
            guard groups.contains(name) else { return nil }
            let r = m.range(withName: name)
            guard r.location != NSNotFound else { return nil }
            let s = ns.substring(with: r).trimmingCharacters(in: .whitespaces)
            return s.isEmpty ? nil : s
        }
        var fields: [(String, String?)] = []
        if let c = group("container") { fields.append((c, group("confidence"))) }
        if let c = group("container2") { fields.append((c, group("confidence2") ?? group("confidence"))) }
        return assemble(fields, time: group("time"), plate: group("plate"))
    }

    /// libxml2's tree API, directly: no network, no DTD loading, entities not substituted
    /// (an external entity is never read). FoundationXML's XMLParser, used before, crashed on a
    /// malformed message the fuzzer found (Fuzz/corpus/ocr-message/crash-foundationxml-pi).
    func parseXML(_ text: String, root: String, container: String, confidence: String?, time: String?, plate: String?) -> Result<OCRMessage, OCRMessageError> {
        Self.initLibXML
        let bytes = Array(text.utf8)
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOCDATA.rawValue)
        // The first error libxml2 meets (its later ones follow from it), through its structured
        // error hook, which also keeps it off standard error.
        let first = FirstXMLError()
        xmlSetStructuredErrorFunc(Unmanaged.passUnretained(first).toOpaque()) { ctx, err in
            guard let ctx, let err else { return }
            let f = Unmanaged<FirstXMLError>.fromOpaque(ctx).takeUnretainedValue()
            guard f.code == 0, err.pointee.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
            f.code = Int(err.pointee.code)
            f.line = Int(err.pointee.line)
            f.column = Int(err.pointee.int2)
            f.message = err.pointee.message.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        }
        defer { xmlSetStructuredErrorFunc(nil, nil) }
        let doc: xmlDocPtr? = bytes.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { p in xmlReadMemory(p, Int32(b.count), "ocr.xml", "UTF-8", options) }
        }
        if first.code != 0 || doc == nil {
            if let doc { xmlFreeDoc(doc) }
            let why = Self.xmlReason(first.code == 0 ? 4 : first.code) + (first.message.isEmpty ? "" : " (libxml2: \(first.message))")
            return .failure(OCRMessageError("XML: \(why) at line \(max(1, first.line)), column \(first.column)"))
        }
        guard let doc else { return .failure(OCRMessageError("XML: not a document")) }
        defer { xmlFreeDoc(doc) }
        guard let top = xmlDocGetRootElement(doc), Self.name(top) == root else { return .failure(OCRMessageError("XML: no <\(root)> element")) }
        func attribute(_ node: xmlNodePtr, _ name: String) -> String? {
            guard let v = xmlGetProp(node, name) else { return nil }
            defer { lane_xml_free(v) }
            return String(cString: v)
        }
        func content(_ node: xmlNodePtr) -> String {
            guard let v = xmlNodeGetContent(node) else { return "" }
            defer { lane_xml_free(v) }
            return String(cString: v).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func attributeName(_ field: String?) -> String? {
            guard let f = field, f.hasPrefix("@") else { return nil }
            return String(f.dropFirst())
        }
        var containers: [String] = [], confidences: [String] = []
        var timeValue: String? = attributeName(time).flatMap { attribute(top, $0) }
        var plateValue: String? = attributeName(plate).flatMap { attribute(top, $0) }
        // Every element below the root, in document order.
        var stack: [xmlNodePtr] = []
        var child = top.pointee.children
        while let c = child { stack.append(c); child = c.pointee.next }
        stack.reverse()
        while let node = stack.popLast() {
            if node.pointee.type == XML_ELEMENT_NODE {
                let n = Self.name(node)
                let value = content(node)
                if n == container {
                    if !value.isEmpty { containers.append(value) }
                    if let a = attributeName(confidence), let v = attribute(node, a) { confidences.append(v) }
                }
                if let c = confidence, attributeName(c) == nil, n == c, !value.isEmpty { confidences.append(value) }
                if let t = time, attributeName(t) == nil, n == t, !value.isEmpty { timeValue = value }
                if let p = plate, attributeName(p) == nil, n == p, !value.isEmpty { plateValue = value }
                var kids: [xmlNodePtr] = []
                var k = node.pointee.children
                while let c = k { kids.append(c); k = c.pointee.next }
                stack.append(contentsOf: kids.reversed())
            }
        }
        var fields: [(String, String?)] = []
        for (i, c) in containers.enumerated() {
            let conf = i < confidences.count ? confidences[i] : (confidences.count == 1 ? confidences[0] : nil)
            fields.append((c, conf))
        }
        return assemble(fields, time: timeValue, plate: plateValue)
    }

    static let initLibXML: Void = { xmlInitParser() }()

    /// The first error of one parse (filled by libxml2's hook on the parsing thread).
    final class FirstXMLError {
        var code = 0, line = 0, column = 0
        var message = ""
    }

    static func name(_ node: xmlNodePtr) -> String { node.pointee.name.map { String(cString: $0) } ?? "" }

    /// libxml2's error numbers, in words.
    static func xmlReason(_ code: Int) -> String {
        switch code {
        case 4: return "not an XML document"
        case 5: return "the document is cut short, or has more after its root element"
        case 76: return "a closing tag does not match its opening tag"
        case 38, 39, 40, 41, 65, 73: return "a tag is malformed (an attribute without quotes, or an unclosed tag)"
        case 77: return "the document is cut short (an element is not closed)"
        case 26, 27: return "an undefined entity (&name;)"
        case 9: return "an invalid character"
        default: return "not well-formed (libxml2 error \(code))"
        }
    }

    func assemble(_ fields: [(String, String?)], time: String?, plate: String?) -> Result<OCRMessage, OCRMessageError> {
        var m = OCRMessage()
        guard fields.count <= 4 else { return .failure(OCRMessageError("\(fields.count) container numbers in one read (at most 4)")) }
        for (raw, conf) in fields {
            let number = Self.normalise(raw)
            guard ContainerNumber(ascii: Array(number.utf8)) != nil else {
                return .failure(OCRMessageError("container \"\(raw.prefix(40))\" is not 1 to 16 printable ASCII characters"))
            }
            var c = ContainerRead.unknownConfidence
            if let conf {
                guard let v = Double(conf), v.isFinite else { return .failure(OCRMessageError("confidence \"\(conf.prefix(20))\" is not a number")) }
                let pct = format.confidence == .fraction ? v * 100 : v
                guard pct >= 0 && pct <= 100 else {
                    return .failure(OCRMessageError("confidence \(conf) is outside \(format.confidence == .fraction ? "0...1" : "0...100")"))
                }
                c = UInt8(pct.rounded())
            }
            if !m.numbers.contains(where: { $0.0 == number }) { m.numbers.append((number, c)) }
        }
        if let plate {
            let p = String(plate.filter { $0 != " " }).uppercased()
            guard ContainerNumber(ascii: Array(p.utf8)) != nil else { return .failure(OCRMessageError("plate \"\(plate.prefix(40))\" is not 1 to 16 printable ASCII characters")) }
            m.plate = p
        }
        if let time {
            guard let us = Self.parseTime(time, format.time) else {
                return .failure(OCRMessageError("time \"\(time.prefix(40))\" is not \(Self.timeName(format.time))"))
            }
            m.readWallUs = us
        }
        return .success(m)
    }

    /// A container number with its spaces and dashes removed, letters in upper case
    /// (`MSCU 123456-5` is `MSCU1234565`). Plates lose their spaces and keep their dashes.
    static func normalise(_ s: String) -> String {
        String(s.filter { $0 != " " && $0 != "-" }).uppercased()
    }

    static func timeName(_ f: OCRFormat.TimeFormat) -> String {
        switch f {
        case .iso8601: return "an ISO 8601 time (2026-12-02T06:30:00.123Z)"
        case .unix: return "seconds since 1970"
        case .unixMs: return "milliseconds since 1970"
        }
    }

    static func parseTime(_ s: String, _ f: OCRFormat.TimeFormat) -> Int64? {
        switch f {
        case .unix:
            guard let v = Double(s), v.isFinite, v > 0, v < 4e9 else { return nil }
            return Int64(v * 1e6)
        case .unixMs:
            guard let v = Int64(s), v > 0, v < 4_000_000_000_000 else { return nil }
            return v * 1000
        case .iso8601:
            return iso8601Microseconds(s)
        }
    }

    /// A strict RFC 3339 time (`2026-12-02T06:30:00.123Z`, `...+01:00`; a fraction of 1 to 9
    /// digits; years 2000-2099), as Unix µs. By hand: Foundation's ISO8601DateFormatter crashed
    /// on a long fraction the fuzzer sent (a whole agent down from one OCR message).
    public static func iso8601Microseconds(_ s: String) -> Int64? {
        let u = Array(s.utf8)
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= u.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                guard u[i] >= 48 && u[i] <= 57 else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard u.count >= 20, let y = digits(0, 4), u[4] == 45, let mo = digits(5, 2), u[7] == 45, let d = digits(8, 2),
              u[10] == 84 || u[10] == 116 || u[10] == 32, let h = digits(11, 2), u[13] == 58, let mi = digits(14, 2), u[16] == 58, let sec = digits(17, 2),
              (2000...2099).contains(y), (1...12).contains(mo), h < 24, mi < 60, sec < 61 else { return nil }
        let monthDays = [31, (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d >= 1 && d <= monthDays[mo - 1] else { return nil }
        var i = 19
        var fractionUs = 0
        if i < u.count && u[i] == 46 {
            i += 1
            var n = 0, v = 0
            while i < u.count && u[i] >= 48 && u[i] <= 57 {
                guard n < 9 else { return nil }
                if n < 6 { v = v * 10 + Int(u[i] - 48) }
                n += 1
                i += 1
            }
            guard n >= 1 else { return nil }
            if n < 6 { for _ in n..<6 { v *= 10 } }
            fractionUs = v
        }
        var offsetS = 0
        guard i < u.count else { return nil }
        if u[i] == 90 || u[i] == 122 {
            i += 1
        } else if u[i] == 43 || u[i] == 45, let oh = digits(i + 1, 2), i + 3 < u.count, u[i + 3] == 58, let om = digits(i + 4, 2), oh < 24, om < 60 {
            offsetS = (oh * 3600 + om * 60) * (u[i] == 43 ? 1 : -1)
            i += 6
        } else { return nil }
        guard i == u.count else { return nil }
        // Days from 1970-01-01 (H. Hinnant's days_from_civil).
        let yy = mo <= 2 ? y - 1 : y
        let era = yy / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86_400 + h * 3600 + mi * 60 + sec - offsetS
        return Int64(seconds) * 1_000_000 + Int64(fractionUs)
    }

    /// An ISO 8601 time with milliseconds, UTC (the simulator's messages).
    public static func iso8601(wallUs: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(wallUs) / 1e6))
    }
}
