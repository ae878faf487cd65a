// Proves the rule that attaches the gate OCR's reads to occupancies (docs/OCR.md): by time, up to
// two containers, late reads amend, what fits nothing is unmatched, ISO 6346 check digits, and a
// number seen on another truck flagged; and the record format's OCR block (format 3) with its
// refusals, while format-2 decisions still decode.

import LaneCore
import Testing

func number(_ s: String) -> ContainerNumber { ContainerNumber(ascii: Array(s.utf8))! }

func read(_ numbers: [String], at: Int64, confidence: UInt8 = 95, plate: String? = nil) -> OCRRead {
    var r = OCRRead()
    for n in numbers { _ = r.add(number(n), confidence: confidence) }
    r.plate = plate.map(number)
    r.atUs = at
    r.arrivalUs = at
    return r
}

let s1 = 1_000_000 as Int64

@Suite struct OCRMatcherTests {
    @Test("ISO 6346: valid numbers pass, one changed character or a wrong shape fails")
    func checkDigit() {
        for n in ["MSCU1234566", "TGHU4581235", "CSQU3054383", "HLXU8034164", "CAIU7001016"] { #expect(number(n).hasValidCheckDigit, "\(n)") }
        for n in ["MSCU1234565", "MSCU1234576", "MSCU123456", "1SCU1234566", "MSCU12345661", "mscu1234566"] { #expect(!number(n).hasValidCheckDigit, "\(n)") }
    }

    @Test("two containers read during the occupancy go into its decision, in order, with their confidences; a third is counted, not kept")
    func twoContainers() {
        var m = OCRMatcher()
        m.started(occupancy: 1, startUs: 10 * s1)
        #expect(m.read(read(["HLXU8034159"], at: 12 * s1, confidence: 97)) == .attached(occupancy: 1, {
            var a = OCRAttachment(); _ = a.append(ContainerRead(number: number("HLXU8034159"), confidence: 97)); return a }()))
        _ = m.read(read(["HLXU8034164"], at: 13 * s1, confidence: 91, plate: "DP-4471"))
        _ = m.read(read(["TGHU4581235"], at: 14 * s1))
        let a = m.decided(occupancy: 1, endUs: 20 * s1)
        #expect(a.count == 2 && a[0].number == number("HLXU8034159") && a[1].number == number("HLXU8034164"))
        #expect(a[0].confidence == 97 && a[1].confidence == 91 && !a.suspect)
        #expect(a.plate == number("DP-4471") && a.extra == 1)
    }

    @Test("a read after the decision but within the late window amends that occupancy; one later is unmatched")
    func late() {
        var s = OCRSettings()
        s.lateUs = 15 * s1
        var m = OCRMatcher(settings: s)
        m.started(occupancy: 1, startUs: 10 * s1)
        #expect(m.decided(occupancy: 1, endUs: 20 * s1).isEmpty)
        guard case let .amended(occ, start, reads) = m.read(read(["TCLU6029118"], at: 30 * s1)) else { Issue.record("not amended"); return }
        #expect(occ == 1 && start == 10 * s1 && reads.count == 1 && reads[0].flags & ContainerRead.late != 0)
        guard case let .unmatched(u) = m.read(read(["MSKU0153725"], at: 36 * s1)) else { Issue.record("not unmatched"); return }
        #expect(u.count == 1 && u[0].number == number("MSKU0153725"))
        #expect(m.unmatched == 1 && m.amendments == 1)
    }

    @Test("with the OCR's read time, a late read goes to the truck it was taken of, not the next one in the lane")
    func queue() {
        var m = OCRMatcher()
        m.started(occupancy: 1, startUs: 10 * s1)
        _ = m.decided(occupancy: 1, endUs: 20 * s1)
        m.started(occupancy: 2, startUs: 21 * s1)
        // Taken at 12 s (truck 1), arrived at 23 s while truck 2 is in the lane.
        var r = read(["TGHU4581235"], at: 12 * s1)
        r.arrivalUs = 23 * s1
        guard case let .amended(occ, _, _) = m.read(r) else { Issue.record("not an amendment of truck 1"); return }
        #expect(occ == 1)
        // Without a read time (at = arrival), the truck in the lane takes it.
        guard case let .attached(occ2, _) = m.read(read(["MSCU1234566"], at: 23 * s1)) else { Issue.record("not attached"); return }
        #expect(occ2 == 2)
    }

    @Test("a wrong check digit is kept as read and flagged; low confidence is flagged; the same number on another truck is flagged")
    func suspects() {
        var s = OCRSettings()
        s.minConfidence = 60
        var m = OCRMatcher(settings: s)
        m.started(occupancy: 1, startUs: 10 * s1)
        _ = m.read(read(["MSCU1234565"], at: 11 * s1))
        let a = m.decided(occupancy: 1, endUs: 20 * s1)
        #expect(a[0].number == number("MSCU1234565") && a[0].flags == ContainerRead.checkDigitFailed && a.suspect)
        m.started(occupancy: 2, startUs: 30 * s1)
        _ = m.read(read(["MSCU1234565"], at: 31 * s1))  // the wrong truck's read (or a misread twice)
        _ = m.read(read(["CSQU3054383"], at: 32 * s1, confidence: 40))
        let b = m.decided(occupancy: 2, endUs: 40 * s1)
        #expect(b[0].flags & ContainerRead.seenOnOtherOccupancy != 0)
        #expect(b[1].flags == ContainerRead.lowConfidence)
    }

    @Test("a duplicate read changes nothing (a higher confidence is kept); a read while the lane is empty and nothing recent is unmatched")
    func duplicates() {
        var m = OCRMatcher()
        #expect({ if case .unmatched = m.read(read(["MSCU1234566"], at: s1)) { return true }; return false }())
        m.started(occupancy: 1, startUs: 10 * s1)
        _ = m.read(read(["MSCU1234566"], at: 11 * s1, confidence: 80))
        #expect(m.read(read(["MSCU1234566"], at: 11 * s1, confidence: 80)) == .duplicate(occupancy: 1))
        guard case let .attached(_, a) = m.read(read(["MSCU1234566"], at: 12 * s1, confidence: 93)) else { Issue.record("not attached"); return }
        #expect(a.count == 1 && a[0].confidence == 93)
        #expect(m.duplicates == 1)
    }

    @Test("the trace contract's rule: a read while the lane is empty goes to the next occupancy, never back to the last")
    func traceContract() {
        var m = OCRMatcher(settings: .traceContract)
        m.started(occupancy: 1, startUs: 10 * s1)
        _ = m.decided(occupancy: 1, endUs: 20 * s1)
        #expect(m.read(read(["MSCU1234566"], at: 21 * s1)) == .pending)
        m.started(occupancy: 2, startUs: 30 * s1)
        let a = m.decided(occupancy: 2, endUs: 40 * s1)
        #expect(a.count == 1 && a[0].number == number("MSCU1234566"))
    }

    @Test("only the last 8 occupancies are remembered; reads for older ones are unmatched")
    func recentOnly() {
        var s = OCRSettings()
        s.lateUs = 1_000 * s1
        var m = OCRMatcher(settings: s)
        for k in 1...9 {
            m.started(occupancy: UInt32(k), startUs: Int64(k) * 10 * s1)
            _ = m.decided(occupancy: UInt32(k), endUs: Int64(k) * 10 * s1 + 5 * s1)
        }
        guard case .unmatched = m.read(read(["MSCU1234566"], at: 12 * s1)) else { Issue.record("occupancy 1 is forgotten"); return }
        guard case let .amended(occ, _, _) = m.read(read(["MSCU1234566"], at: 22 * s1)) else { Issue.record("occupancy 2 is remembered"); return }
        #expect(occ == 2)
    }
}

@Suite struct OCRRecordTests {
    func frame(kind: UInt8, body: [UInt8], version: UInt8) -> [UInt8] {
        var f: [UInt8] = [version, kind]
        var n = body.count
        while n >= 0x80 { f.append(UInt8(n & 0x7F) | 0x80); n >>= 7 }
        f.append(UInt8(n))
        f += body
        let crc = f.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
        f += [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)]
        return [0xA7] + f
    }

    /// The body of an encoded frame (after magic, version, kind and a one- or two-byte length).
    func body(_ f: [UInt8]) -> [UInt8] {
        let lengthBytes = f[3] & 0x80 != 0 ? 2 : 1
        return Array(f[(3 + lengthBytes)..<(f.count - 4)])
    }

    @Test("a format-2 decision (one container number, as an earlier release wrote it) decodes into one read of unknown confidence")
    func formatTwo() {
        var d = Decision()
        d.occupancy = 3
        let v7 = body(encode(.occupancy(d), FrameHeader(epoch: 5, sequence: 1, monotonicUs: 0, wallUs: 0)))
        // Format 7 ends with the gamma tests (0 here), which formats 3-6 did not have.
        #expect(v7.last == 0)
        let v3 = Array(v7.dropLast())
        // Format 3 ends with the OCR block (0 reads, no plate, 0 extra) and the panel mask (0);
        // format 2 had the container's length and bytes there.
        #expect(Array(v3.suffix(4)) == [0, 0, 0, 0])
        let v2 = Array(v3.dropLast(4)) + [11] + Array("CSQU3054383".utf8) + [0]
        guard case let .record(_, .occupancy(got), _)? = scan(frame(kind: 2, body: v2, version: 2)).first else { Issue.record("not decoded"); return }
        #expect(got.container == number("CSQU3054383") && got.ocr.count == 1 && got.ocr[0].confidence == ContainerRead.unknownConfidence)
        // An ocr record cannot be format 2.
        let ocr = body(encode(ocrRecords()[0], FrameHeader(epoch: 5, sequence: 2, monotonicUs: 0, wallUs: 0)))
        guard case .rejected(.unknownKind(9), _)? = scan(frame(kind: 9, body: ocr, version: 2)).first else { Issue.record("a format-2 ocr record was read"); return }
    }

    @Test("a malformed OCR block is refused with its reason", arguments: ["three reads", "confidence 150", "unknown flag", "same number twice", "empty number", "number of 17"])
    func malformed(defect: String) {
        var d = Decision()
        d.occupancy = 3
        let base = Array(body(encode(.occupancy(d), FrameHeader(epoch: 5, sequence: 1, monotonicUs: 0, wallUs: 0))).dropLast(4))
        let n = [11] + Array("CSQU3054383".utf8), m = [11] + Array("MSCU1234566".utf8)
        let block: [UInt8]
        switch defect {
        case "three reads": block = [3] + n + [90, 0] + m + [90, 0] + n + [90, 0]
        case "confidence 150": block = [1] + n + [150, 0]
        case "unknown flag": block = [1] + n + [90, 16]
        case "same number twice": block = [2] + n + [90, 0] + n + [80, 0]
        case "empty number": block = [1, 0, 90, 0]
        default: block = [1, 17] + Array("CSQU3054383CSQU30".utf8) + [90, 0]
        }
        let results = scan(frame(kind: 2, body: base + block + [0, 0, 0], version: 3))
        guard case let .rejected(e, _)? = results.first else { Issue.record("\(defect): accepted: \(results)"); return }
        #expect(e == .valueOutOfRange, "\(defect): \(e)")
    }
}
