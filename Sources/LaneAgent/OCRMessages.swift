// What a gate OCR system sends, as the board profile describes it (docs/OCR.md): one message per
// read, a line of text matched by a pattern with named groups, or a small XML document whose
// element (or attribute) names the profile gives. A new vendor needs a profile, not code.

import Foundation
import FoundationXML
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

    func parseXML(_ text: String, root: String, container: String, confidence: String?, time: String?, plate: String?) -> Result<OCRMessage, OCRMessageError> {
        let reader = XMLFields(root: root, container: container, confidence: confidence, time: time, plate: plate)
        let parser = XMLParser(data: Data(text.utf8))
        parser.shouldResolveExternalEntities = false
        parser.delegate = reader
        let ok = parser.parse()
        if !ok || parser.parserError != nil {
            let why = (parser.parserError as NSError?).map { Self.xmlReason($0.code) } ?? "not well-formed"
            return .failure(OCRMessageError("XML: \(why) at line \(parser.lineNumber), column \(parser.columnNumber)"))
        }
        guard reader.sawRoot else { return .failure(OCRMessageError("XML: no <\(root)> element")) }
        var fields: [(String, String?)] = []
        for (i, c) in reader.containers.enumerated() {
            let conf = i < reader.confidences.count ? reader.confidences[i] : (reader.confidences.count == 1 ? reader.confidences[0] : nil)
            fields.append((c, conf))
        }
        return assemble(fields, time: reader.time, plate: reader.plate)
    }

    /// libxml2's error numbers, in words.
    static func xmlReason(_ code: Int) -> String {
        switch code {
        case 4: return "not an XML document"
        case 5: return "the document is cut short, or has more after its root element"
        case 76: return "a closing tag does not match its opening tag"
        case 39, 41, 73: return "a tag is malformed (an attribute without quotes, or an unclosed tag)"
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
            let withFraction = ISO8601DateFormatter()
            withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let plain = ISO8601DateFormatter()
            plain.formatOptions = [.withInternetDateTime]
            guard let d = withFraction.date(from: s) ?? plain.date(from: s) else { return nil }
            return Int64((d.timeIntervalSince1970 * 1e6).rounded())
        }
    }

    /// An ISO 8601 time with milliseconds, UTC (the simulator's messages).
    public static func iso8601(wallUs: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(wallUs) / 1e6))
    }
}

/// Collects the profile's fields from one XML document.
final class XMLFields: NSObject, XMLParserDelegate {
    let root: String, container: String, confidenceName: String?, timeName: String?, plateName: String?
    var sawRoot = false
    var containers: [String] = []
    var confidences: [String] = []
    var time: String? = nil
    var plate: String? = nil
    var text = ""
    var depth = 0

    init(root: String, container: String, confidence: String?, time: String?, plate: String?) {
        self.root = root; self.container = container; confidenceName = confidence; timeName = time; plateName = plate
    }

    /// `@name`: an attribute's name; nil for an element name.
    static func attribute(_ name: String?) -> String? {
        guard let n = name, n.hasPrefix("@") else { return nil }
        return String(n.dropFirst())
    }

    func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        depth += 1
        text = ""
        if e == root && depth == 1 {
            sawRoot = true
            if let a = Self.attribute(timeName), let v = attributes[a] { time = v }
            if let a = Self.attribute(plateName), let v = attributes[a] { plate = v }
        }
        if e == container, let a = Self.attribute(confidenceName), let v = attributes[a] { confidences.append(v) }
    }

    func parser(_ p: XMLParser, foundCharacters s: String) { text += s }

    func parser(_ p: XMLParser, didEndElement e: String, namespaceURI: String?, qualifiedName: String?) {
        depth -= 1
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        text = ""
        guard sawRoot, !value.isEmpty else { return }
        if e == container { containers.append(value) }
        if let c = confidenceName, Self.attribute(c) == nil, e == c { confidences.append(value) }
        if let t = timeName, Self.attribute(t) == nil, e == t { time = value }
        if let pl = plateName, Self.attribute(pl) == nil, e == pl { plate = value }
    }
}
