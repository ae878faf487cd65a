// Proves the reading of gate OCR messages as the board profile describes them (docs/OCR.md): a
// line matched by a pattern, an XML document by element or attribute names; every malformed
// message refused with a reason naming what is wrong; the profile's `ocr` section checked key
// by key; and the controller attaching reads on simulated time (decision, amendment record,
// unmatched record, VM-250 CN lines).

import Foundation
import LaneAgent
import LaneCore
import LaneHAL
import Testing

let linePattern = OCRFormat.simulatorPattern

func lineParser(_ pattern: String = linePattern) throws -> OCRMessageParser { try OCRMessageParser(OCRFormat(kind: .line(pattern: pattern))) }

func xmlParser(time: OCRFormat.TimeFormat = .iso8601, confidence: OCRFormat.ConfidenceScale = .percent) throws -> OCRMessageParser {
    var f = OCRFormat(kind: .xml(root: "OCRResult", container: "Container", confidence: "@confidence", time: "Time", plate: "Plate"))
    f.time = time
    f.confidence = confidence
    return try OCRMessageParser(f)
}

@Suite struct OCRMessageTests {
    @Test("a line with two containers, confidences, an ISO 8601 time and a plate")
    func line() throws {
        let m = try lineParser().parse("OCR,2026-12-02T06:30:00.250Z,HLXU8034159,97,HLXU 803416-4,91,DP-4471").get()
        #expect(m.numbers.map { $0.0 } == ["HLXU8034159", "HLXU8034164"] && m.numbers.map { $0.1 } == [97, 91])
        #expect(m.plate == "DP-4471" && m.readWallUs == 1_796_193_000_250_000)
        // A bobtail: only the plate. Nothing at all: an empty read (not malformed).
        let bobtail = try lineParser().parse("OCR,2026-12-02T06:30:00Z,,,,,DP-1187").get()
        #expect(bobtail.numbers.isEmpty && bobtail.plate == "DP-1187")
        #expect(try lineParser().parse("OCR,,,,,,").get().isEmpty)
    }

    @Test("a vendor's own line format is a pattern in the profile: no code")
    func vendorPattern() throws {
        let p = try lineParser(#"^READ\|(?<time>\d+)\|(?<container>[A-Z0-9 ]+)\|(?<confidence>[0-9.]+)$"#)
        var f = p.format
        f.time = .unix
        let m = try OCRMessageParser(f).parse("READ|1796193000|MSCU 1234566|88.6").get()
        #expect(m.numbers.map { $0.0 } == ["MSCU1234566"] && m.numbers[0].1 == 89 && m.readWallUs == 1_796_193_000_000_000)
    }

    @Test("every malformed line is refused with what is wrong", arguments: [
        ("OCR;2026;MSCU1234566", "does not match ocr.pattern"),
        ("OCR,2026-12-02T06:30:00Z,MSCU1234566,high,,,", "confidence \"high\" is not a number"),
        ("OCR,2026-12-02T06:30:00Z,MSCU1234566,140,,,", "confidence 140 is outside 0...100"),
        ("OCR,yesterday,MSCU1234566,90,,,", "time \"yesterday\" is not an ISO 8601 time"),
        ("OCR,2026-12-02T06:30:00Z,MSCU12345661234567,90,,,", "is not 1 to 16 printable ASCII characters"),
        ("OCR,2026-12-02T06:30:00Z,MSCU1234566,90,,,PLATE-OF-MORE-THAN-16", "plate \"PLATE-OF-MORE-THAN-16\" is not 1 to 16"),
    ])
    func malformedLine(text: String, why: String) throws {
        guard case let .failure(e) = try lineParser().parse(text) else { Issue.record("accepted: \(text)"); return }
        #expect(e.description.contains(why), "\(e)")
    }

    @Test("an XML document: repeated container elements with attribute confidences, the time and plate elements")
    func xml() throws {
        let doc = #"<?xml version="1.0"?><OCRResult><Time>2026-12-02T06:30:00+01:00</Time><Container confidence="97">HLXU8034159</Container><Container confidence="62">HLXU8034164</Container><Plate>DP 4471</Plate></OCRResult>"#
        let m = try xmlParser().parse(doc).get()
        #expect(m.numbers.map { $0.0 } == ["HLXU8034159", "HLXU8034164"] && m.numbers.map { $0.1 } == [97, 62])
        #expect(m.plate == "DP4471" && m.readWallUs == 1_796_189_400_000_000, "a plate's spaces go, its dashes stay")
        // A fraction scale, and milliseconds since 1970.
        let f = try xmlParser(time: .unixMs, confidence: .fraction).parse("<OCRResult><Time>1796193000250</Time><Container confidence=\"0.815\">MSCU1234566</Container></OCRResult>").get()
        #expect(f.numbers[0].1 == 82 && f.readWallUs == 1_796_193_000_250_000)
    }

    @Test("every malformed XML message is refused with what is wrong and where", arguments: [
        ("<OCRResult><Container>MSCU1234566</Contaner></OCRResult>", "a closing tag does not match its opening tag (libxml2: Opening and ending tag mismatch: Container line 1 and Contaner) at line 1, column 45"),
        ("<OCRResult><Container>MSCU1234566</Container>", "the document is cut short"),
        ("<OCRResult><Container confidence=97>MSCU1234566</Container></OCRResult>", "a tag is malformed"),
        ("<Other><Container>MSCU1234566</Container></Other>", "no <OCRResult> element"),
        ("just text", "not an XML document"),
        ("<OCRResult><Container confidence=\"x\">MSCU1234566</Container></OCRResult>", "confidence \"x\" is not a number"),
        ("<OCRResult><Container>&bogus;</Container></OCRResult>", "an undefined entity"),
    ])
    func malformedXML(text: String, why: String) throws {
        guard case let .failure(e) = try xmlParser().parse(text) else { Issue.record("accepted: \(text)"); return }
        #expect(e.description.contains(why), "\(e)")
    }

    @Test("an external entity is never resolved: a file's contents cannot become a container number")
    func noExternalEntities() throws {
        let doc = #"<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/hostname">]><OCRResult><Container>&e;</Container></OCRResult>"#
        let hostname = (try? String(contentsOfFile: "/etc/hostname", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines).uppercased() ?? "?"
        switch try xmlParser().parse(doc) {
        case let .success(m): #expect(!m.numbers.contains { $0.0 == hostname }, "\(m.numbers)")
        case .failure: break
        }
    }

    @Test("the profile's ocr section: each key checked, each error naming the key and what was expected", arguments: [
        ("  connect: 127.0.0.1\n", "ocr.connect: expected an IPv4 address and a port"),
        ("  connect: 127.0.0.1:7070\n  listen: 0.0.0.0:7070\n", "give either connect"),
        ("  format: line\n", "give either connect"),
        ("  connect: 127.0.0.1:7070\n  allow: [10.0.0.1]\n", "ocr.allow: only with listen"),
        ("  connect: 127.0.0.1:7070\n  format: csv\n", "ocr.format: 'csv' is not one of: line, xml"),
        ("  connect: 127.0.0.1:7070\n  pattern: '(unclosed'\n", "not a valid regular expression"),
        ("  connect: 127.0.0.1:7070\n  pattern: '^(?<number>.*)$'\n", "needs a named group (?<container>"),
        ("  connect: 127.0.0.1:7070\n  format: xml\n  fields: {container: Container}\n", "ocr.root: required key is missing"),
        ("  connect: 127.0.0.1:7070\n  format: xml\n  root: R\n  fields: {container: '@c'}\n", "ocr.fields.container: required: the element"),
        ("  connect: 127.0.0.1:7070\n  format: xml\n  root: R\n  fields: {container: 'a b'}\n", "expected an XML element name"),
        ("  connect: 127.0.0.1:7070\n  lateS: 500\n", "ocr.lateS"),
        ("  connect: 127.0.0.1:7070\n  minConfidence: 101\n", "ocr.minConfidence"),
        ("  connect: 127.0.0.1:7070\n  time: local\n", "ocr.time: 'local' is not one of: iso8601, unix, unixMs"),
        ("  connect: 127.0.0.1:7070\n  lateness: 5\n", "ocr.lateness: unknown key"),
    ])
    func profile(section: String, why: String) throws {
        let text = simProfile.components(separatedBy: "\nocr:")[0] + "\nocr:\n" + section
        do {
            _ = try BoardProfile.parse(text, file: "board.yaml", mapDirectory: packageRoot + "/Boards/panels")
            Issue.record("accepted: \(section)")
        } catch {
            #expect("\(error)".contains(why), "\(error)")
        }
    }

    @Test("the simulator's board reads the simulated OCR: connect 127.0.0.1:7070, lines, a 15 s late window, 60 % minimum confidence")
    func simBoard() throws {
        let p = try BoardProfile.load(path: packageRoot + "/Boards/sim.yaml")
        let o = try #require(p.ocr)
        #expect(o.endpoint == .connect(host: "127.0.0.1", port: 7070) && o.format.kind == .line(pattern: OCRFormat.simulatorPattern))
        #expect(o.matching.lateUs == 15_000_000 && o.matching.minConfidence == 60)
    }
}

@Suite struct OCRControllerTests {
    func read(_ n: [String], takenUs: Int64, arrivalUs: Int64, confidence: UInt8 = 95) -> OCRRead {
        var r = OCRRead()
        for x in n { _ = r.add(ContainerNumber(ascii: Array(x.utf8))!, confidence: confidence) }
        r.atUs = takenUs
        r.arrivalUs = arrivalUs
        r.readWallUs = takenUs
        return r
    }

    @Test("on simulated time: reads during a truck go into its decision and its VM-250 CN lines; a late one becomes an amendment record; one fitting nothing an unmatched record")
    func attachAmendUnmatched() {
        var lane = VirtualLane()
        lane.ticks(300)
        let t0 = lane.nowUs + 10_000
        lane.pendingReads = [read(["HLXU8034159", "HLXU8034164"], takenUs: t0 + 300_000, arrivalUs: t0 + 2_000_000)]
        lane.truck()
        let d = lane.sink.decisions.last!
        #expect(d.ocr.count == 2 && d.container == ContainerNumber(ascii: Array("HLXU8034159".utf8)))
        let cn = lane.sink.vm.filter { $0.tag == .cn }
        #expect(cn.count == 2 && cn[0].fields[0] == Int64(d.occupancy) && cn[0].fields[1] == 95 && cn[0].fields[2] == 0)
        #expect(VM250Server.format(cn[0]) == "CN,000001,HLXU8034159,000095,000000\r\n")

        // The next truck's read comes 3 s after its decision: an amendment record naming it.
        let t1 = lane.nowUs + 10_000
        lane.truck()
        let second = lane.sink.decisions.last!
        #expect(second.ocr.isEmpty)
        lane.pendingReads = [read(["MSCU1234565"], takenUs: t1 + 500_000, arrivalUs: lane.nowUs + 3_000_000)]
        lane.ticks(40)
        let ocr = lane.sink.records.compactMap { if case let .ocr(o) = $0 { return o } else { return nil } }
        #expect(ocr.count == 1 && ocr[0].occupancy == second.occupancy && ocr[0].occupancyStartUs == second.startUs)
        #expect(ocr[0].reads.count == 1 && ocr[0].reads[0].flags == ContainerRead.checkDigitFailed | ContainerRead.late)
        #expect(lane.sink.events.contains { if case .ocr = $0 { return true } else { return false } })

        // A read taken a minute after anything: unmatched, recorded with occupancy 0.
        lane.pendingReads = [read(["TGHU4581235"], takenUs: lane.nowUs + 60_000_000, arrivalUs: lane.nowUs + 100_000)]
        lane.ticks(5)
        let all = lane.sink.records.compactMap { if case let .ocr(o) = $0 { return o } else { return nil } }
        #expect(all.count == 2 && all[1].occupancy == 0 && all[1].reads[0].number == ContainerNumber(ascii: Array("TGHU4581235".utf8)))
        #expect(lane.controller.view.ocrAttached == 1 && lane.controller.view.ocrAmended == 1 && lane.controller.view.ocrUnmatched == 1)
    }
}

@Suite struct OCRConsoleTests {
    @Test("the console's ocr command: how the OCR connects, its counts, and the last reads with where each went; status shows the last occupancy's reads")
    func ocrCommand() throws {
        let c = try ConsoleUnderTest()
        #expect(c.run("ocr").text.contains("no OCR input configured"))
        var config = try #require(c.hub.profile.ocr)
        config.endpoint = .listen(host: "127.0.0.1", port: 0, allow: [])
        c.hub.ocr = try OCRInput(config: config, log: { _ in })
        let t0 = c.lane.lane.nowUs + 10_000
        var r = OCRRead()
        _ = r.add(ContainerNumber(ascii: Array("MSCU1234565".utf8))!, confidence: 72)
        r.atUs = t0 + 500_000
        r.arrivalUs = t0 + 1_000_000
        c.lane.lane.pendingReads = [r]
        c.lane.lane.truck()
        c.lane.tick()
        let out = c.run("ocr")
        #expect(out.outcome == .ok)
        #expect(out.text.contains("the OCR system connects to 127.0.0.1:0 (listening); a line per read"), "\(out.text)")
        #expect(out.text.contains("matched: 1 to the truck in the lane, 0 late (decision amended), 0 unmatched, 0 duplicates"), "\(out.text)")
        #expect(out.lines.contains { $0.contains("occupancy 1: MSCU1234565 (72 %, check digit fails) OCR SUSPECT") }, "\(out.text)")
        let status = c.run("status")
        #expect(status.lines.contains { $0.hasPrefix("containers: last #1: MSCU1234565 (72 %, check digit fails) OCR SUSPECT") }, "\(status.text)")
        #expect(status.lines.contains { $0.hasPrefix("OCR:") && $0.contains("NOT CONNECTED") }, "\(status.text)")
    }
}

@Suite struct ISO8601Tests {
    @Test("the OCR's ISO 8601 times: UTC, offsets, fractions, a leap day; anything else (a long fraction crashed Foundation's parser) refused")
    func times() {
        let f = OCRMessageParser.iso8601Microseconds
        #expect(f("2026-12-02T06:30:00.250Z") == 1_796_193_000_250_000)
        #expect(f("2026-12-02T06:30:00Z") == 1_796_193_000_000_000)
        #expect(f("2026-12-02T07:30:00+01:00") == 1_796_193_000_000_000)
        #expect(f("2026-12-02T05:00:00.123456789-01:30") == 1_796_193_000_123_456)
        #expect(f("2028-02-29T00:00:00Z") == 1_835_395_200_000_000)
        #expect(f("2000-01-01T00:00:00Z") == 946_684_800_000_000)
        for bad in ["2026-12-02T06:30:00.2388888888888888888888888888Z", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "1999-12-31T23:59:59Z",
                    "2026-12-02T06:30:00", "2026-12-02T24:00:00Z", "2026-12-02T06:30:00.Z", "2026-12-02T06:30:00+1:00", "20261202T063000Z",
                    "2026-12-02T06:30:00Z ", "+2026-12-02T06:30:00Z", "99999999-12-02T06:30:00Z"] {
            #expect(f(bad) == nil, "\(bad)")
        }
    }
}
