// A reader of the VM-250-style stream written from the rules of the two programs that read such
// streams in the field, for the tests: OpenSensorHub's Rapiscan driver (osh-oakridge-modules,
// MessageHandler and its outputs) and LLNL's ERNIE. Each rule below says whose it is. A line or
// a sequence that either program would choke on, or misread, is a problem with its line number.
//
// OpenSensorHub (MessageHandler.onNewMainChar): lines are CSV; the first field is the tag; it
//   parses GB, GH, GL, NB, NH, GS, GA, NS, NA fields 1-4 with Integer.parseInt; GX field 1 with
//   parseInt and field 2 with parseDouble (/1000); SP fields 1-3 with parseDouble; SG1 fields 1-4
//   parseInt, 5 parseDouble; SG2 fields 2-3 parseDouble, 4 parseInt; SG3 fields 1-2 parseDouble,
//   3-4 parseInt; SN1 fields 1-6 parseInt; SN2 fields 1-4 parseFloat. SG3 reads the SG1 and SG2
//   before it, SN2 the SN1 before it (without them it parses an empty string and its reader
//   thread dies). The first GS/GA/NS/NA of an occupancy opens it; the later ones fill the
//   per-occupancy batches whose maximum GX takes (an empty batch throws). Five GS lines make its
//   counts per second. Its heartbeat takes a link for lost when no line came for a while.
//   Unknown tags fall through the switch and are ignored.
// ERNIE: needs all five setup lines (SG1, SG2, SG3, SN1, SN2); takes one NS line a second (and
//   GS every 200 ms); reads GX field 3 as a rail-car index (0 for a truck).

public struct VM250Reader {
    public struct Problem: CustomStringConvertible, Sendable {
        public var line: Int
        public var text: String
        public var why: String
        public var description: String { "line \(line) \"\(text)\": \(why)" }
    }
    public struct Occupancy: Sendable {
        public var number: Int
        public var neutronBackground: Double
        public var railCar: Int
        public var gammaAlarm: Bool
        public var neutronAlarm: Bool
        public var gammaLines: Int
        public var neutronLines: Int
    }

    public private(set) var problems: [Problem] = []
    public private(set) var occupancies: [Occupancy] = []
    public private(set) var tags: [String: Int] = [:]
    /// The longest time between two lines (seconds), when lines are read with their times.
    public private(set) var longestSilenceS: Double = 0
    /// Where the longest silence ended (line number).
    public private(set) var longestSilenceEndsAt = 0
    public private(set) var setupSeen: Set<String> = []
    public private(set) var setupGamma: [String]? = nil
    public private(set) var setupNeutron: [String]? = nil

    var lineNumber = 0
    var lastTimeS: Double? = nil
    var sg1: [String]? = nil, sg2: [String]? = nil, sn1: [String]? = nil
    var inOccupancy = false
    var gammaBatch = 0, neutronBatch = 0, gammaLines = 0, neutronLines = 0
    var gammaAlarm = false, neutronAlarm = false

    public init() {}

    /// Java's Integer.parseInt: an optional sign and decimal digits, within 32 bits.
    static func parseInt(_ s: String) -> Int? {
        var t = Substring(s)
        if t.first == "+" || t.first == "-" { t = t.dropFirst() }
        guard !t.isEmpty, t.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(s), v >= Int(Int32.min), v <= Int(Int32.max) else { return nil }
        return v
    }

    /// Java's Double.parseDouble, near enough: a decimal number.
    static func parseDouble(_ s: String) -> Double? { Double(s.trimmingCharacters(in: [" "])) }

    mutating func problem(_ text: String, _ why: String) { problems.append(Problem(line: lineNumber, text: text, why: why)) }

    /// Reads one line (without its CRLF); `atS` is when it arrived, for the heartbeat rule.
    public mutating func read(_ text: String, atS: Double? = nil) {
        lineNumber += 1
        if let t = atS {
            if let last = lastTimeS, t - last > longestSilenceS { longestSilenceS = t - last; longestSilenceEndsAt = lineNumber }
            lastTimeS = t
        }
        let f = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let tag = f[0]
        tags[tag, default: 0] += 1
        func ints(_ idx: [Int]) -> [Int]? {
            var out: [Int] = []
            for i in idx {
                guard i < f.count, let v = Self.parseInt(f[i]) else {
                    problem(text, "OpenSensorHub parses field \(i) as an integer: \(i < f.count ? "\"\(f[i])\"" : "missing")")
                    return nil
                }
                out.append(v)
            }
            return out
        }
        func doubles(_ idx: [Int]) -> [Double]? {
            var out: [Double] = []
            for i in idx {
                guard i < f.count, let v = Self.parseDouble(f[i]) else {
                    problem(text, "OpenSensorHub parses field \(i) as a number: \(i < f.count ? "\"\(f[i])\"" : "missing")")
                    return nil
                }
                out.append(v)
            }
            return out
        }
        let isData = ["GB", "GH", "GL", "NB", "NH", "GS", "GA", "NS", "NA", "GX", "SP"].contains(tag)
        if isData && setupSeen.count < 5 { problem(text, "ERNIE needs the five setup lines (SG1, SG2, SG3, SN1, SN2) first; seen: \(setupSeen.sorted())") }
        switch tag {
        case "GB", "GH", "GL", "NB", "NH":
            _ = ints([1, 2, 3, 4])
        case "GS", "GA", "NS", "NA":
            guard ints([1, 2, 3, 4]) != nil else { return }
            let gammaLine = tag == "GS" || tag == "GA"
            if gammaLine { gammaLines += 1 } else { neutronLines += 1 }
            if tag == "GA" { gammaAlarm = true }
            if tag == "NA" { neutronAlarm = true }
            if !inOccupancy {
                inOccupancy = true
            } else if gammaLine {
                gammaBatch += 1
            } else {
                neutronBatch += 1
            }
        case "GX":
            guard let i = ints([1]), let d = doubles([2]) else { return }
            let railCar = f.count > 3 ? Self.parseInt(f[3]) : nil
            if railCar != 0 { problem(text, "ERNIE reads field 3 as the rail-car index: 0 for a truck, found \(f.count > 3 ? f[3] : "nothing")") }
            if gammaBatch == 0 { problem(text, "OpenSensorHub's maximum of the occupancy's GS/GA lines after the first throws on none") }
            if neutronBatch == 0 { problem(text, "OpenSensorHub's maximum of the occupancy's NS/NA lines after the first throws on none") }
            occupancies.append(Occupancy(number: i[0], neutronBackground: d[0] / 1000, railCar: railCar ?? -1, gammaAlarm: gammaAlarm,
                                         neutronAlarm: neutronAlarm, gammaLines: gammaLines, neutronLines: neutronLines))
            inOccupancy = false
            gammaBatch = 0; neutronBatch = 0; gammaLines = 0; neutronLines = 0
            gammaAlarm = false; neutronAlarm = false
        case "SP":
            _ = doubles([1, 2, 3])
        case "SG1":
            if ints([1, 2, 3, 4]) != nil && doubles([5]) != nil { sg1 = f }
            setupSeen.insert(tag)
        case "SG2":
            if doubles([2, 3]) != nil && ints([4]) != nil && f.count > 6 { sg2 = f } else if f.count <= 6 { problem(text, "OpenSensorHub reads fields 1-6") }
            setupSeen.insert(tag)
        case "SG3":
            if sg1 == nil || sg2 == nil { problem(text, "OpenSensorHub reads SG3 with the SG1 and SG2 before it: missing") }
            if doubles([1, 2]) != nil && ints([3, 4]) != nil && f.count > 5 { setupGamma = (sg1 ?? []) + (sg2 ?? []) + f } else if f.count <= 5 { problem(text, "OpenSensorHub reads fields 1-5") }
            sg1 = nil; sg2 = nil
            setupSeen.insert(tag)
        case "SN1":
            if ints([1, 2, 3, 4, 5, 6]) != nil { sn1 = f }
            setupSeen.insert(tag)
        case "SN2":
            if sn1 == nil { problem(text, "OpenSensorHub reads SN2 with the SN1 before it: missing") }
            if doubles([1, 2, 3, 4]) != nil { setupNeutron = (sn1 ?? []) + f }
            sn1 = nil
            setupSeen.insert(tag)
        default:
            break  // unknown tags fall through OpenSensorHub's switch
        }
    }

    /// ERNIE's cadence: one NS/NA line a second and five GS/GA lines a second in each occupancy
    /// (one line either way for the partial second at each end).
    public func cadenceProblems() -> [String] {
        var out: [String] = []
        for o in occupancies {
            let seconds = Double(o.gammaLines) / 5
            if abs(Double(o.neutronLines) - seconds) > 1.5 {
                out.append("occupancy \(o.number): \(o.neutronLines) NS lines for \(o.gammaLines) GS lines (\(seconds) s): ERNIE takes one NS line a second")
            }
        }
        return out
    }
}
