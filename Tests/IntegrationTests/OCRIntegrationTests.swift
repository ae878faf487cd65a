// Proves the gate OCR path end to end (docs/OCR.md) with real processes: lane-sim plays eight
// trucks and the OCR camera (each read with one field fault), lane-agent connects to it over TCP,
// screens and attaches the reads, sends records through mosquitto to lane-collector, and serves
// the VM-250 stream. A second test plays the OCR system itself against an agent that listens,
// with XML messages, every kind of malformed one and a dropped connection.

import Foundation
import Testing

/// The decisions (not the amendment lines) and the amendments on an agent's standard output.
func splitOutput(_ lines: [[String: Any]]) -> (decisions: [[String: Any]], amendments: [[String: Any]]) {
    (lines.filter { $0["gammaAlarm"] != nil }, lines.filter { $0["amendment"] as? Bool == true })
}

func numbers(_ d: [String: Any]) -> [String] { ((d["containers"] as? [[String: Any]]) ?? []).compactMap { $0["number"] as? String } }
func reasons(_ d: [String: Any]) -> [[String]] { ((d["containers"] as? [[String: Any]]) ?? []).map { ($0["reasons"] as? [String]) ?? [] } }

/// A TCP client on loopback (the test as the OCR system).
final class OCRClient {
    var fd: Int32 = -1
    /// Connects from `source` (another loopback address shows the agent a peer it does not allow).
    init?(port: Int, source: String? = nil, timeoutS: Double = 10) {
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        while Date() < deadline {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            if let source {
                var local = sockaddr_in()
                local.sin_family = sa_family_t(AF_INET)
                local.sin_addr.s_addr = inet_addr(source)
                _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if rc == 0 { return }
            Glibc.close(fd); fd = -1
            usleep(100_000)
        }
        return nil
    }
    func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
    func send(_ text: String) { send(Array(text.utf8)) }
    func close() { if fd >= 0 { Glibc.close(fd); fd = -1 } }
}

@Suite(.timeLimit(integrationTimeLimit))
struct OCRIntegrationTests {
    @Test("the simulated OCR's reads reach the decisions, the VM-250 stream and the collector: two containers on one truck, a misread flagged, a late read amending a decision already stored, a dropped connection re-established, the wrong truck's read flagged, a duplicate ignored, a malformed message refused, an unmatched read recorded")
    func simulatedCamera() async throws {
        let dir = scratch("ocr")
        let modbusPort = freePort(), brokerPort = freePort(), ocrPort = freePort(), vmPort = freePort()
        let broker = try startPlainBroker(port: brokerPort, dir: dir, persistence: false)
        defer { broker.stop() }
        let collector = try Child("lane-collector", ["run", "--broker", "127.0.0.1:\(brokerPort)", "--db", dir + "/cas.sqlite"], dir: dir, name: "collector")
        defer { collector.stop() }
        // The simulator's board with a 5 s late window (the scenario's late read comes 3 s after
        // its truck's decision; its phantom read 9 s after the last one's).
        let base = try simBoardBase()
        #expect(base.contains("lateS: 15 "))
        try base.replacingOccurrences(of: "lateS: 15 ", with: "lateS: 5 ").write(toFile: dir + "/board.yaml", atomically: true, encoding: .utf8)
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/ocr.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--ocr-port", String(ocrPort), "--linger", "20"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", dir + "/board.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                                             "--ocr-port", String(ocrPort), "--vm250-port", String(vmPort), "--journal", dir + "/journal",
                                             "--broker", "127.0.0.1:\(brokerPort)", "--duration", "112"],
                              dir: dir, name: "agent")
        defer { agent.stop() }
        let stream = LineReader(port: vmPort)
        #expect(await agent.finish(timeoutS: 180) == 0, "\(agent.stderr.suffix(2_000))")
        let vm = stream.finish()
        let (d, amendments) = splitOutput(agent.jsonLines())
        try #require(d.count == 8, "one decision per truck: \(agent.stdout)")

        // 1: two 20-ft boxes on one chassis, with the plate, in order, none doubted.
        #expect(numbers(d[0]) == ["HLXU8034159", "HLXU8034164"] && d[0]["plate"] as? String == "DP-4471" && d[0]["ocrSuspect"] as? Bool == false,
                "\(d[0])")
        #expect(d[0]["container"] as? String == "HLXU8034159", "the contract's container is the first")
        // 2: one character misread: kept as read, its check digit fails, ocrSuspect.
        #expect(numbers(d[1]).count == 1 && numbers(d[1]) != ["MSCU1234566"] && reasons(d[1]) == [["checkDigit"]] && d[1]["ocrSuspect"] as? Bool == true, "\(d[1])")
        // 3: the read came after the decision: the decision had none; an amendment followed.
        #expect(numbers(d[2]).isEmpty, "\(d[2])")
        let late = amendments.first { ($0["occupancy"] as? NSNumber)?.intValue == 3 }
        #expect(late.map(numbers) == ["TGHU4581235"] && (late?["containers"] as? [[String: Any]])?.first?["late"] as? Bool == true, "\(amendments)")
        #expect(int64(late?["startUs"]) == int64(d[2]["startUs"]), "the amendment names its decision by occupancy and start")
        // 4: the OCR dropped its connection before sending; the agent reconnected and got it.
        #expect(agent.stderr.contains("closed the connection; reconnecting"))
        let fourth = numbers(d[3]) + (amendments.first { ($0["occupancy"] as? NSNumber)?.intValue == 4 }.map(numbers) ?? [])
        #expect(fourth.contains("CSQU3054383"), "\(d[3]) \(amendments)")
        // 5: the truck before's number, read again on this truck: flagged.
        #expect(numbers(d[4]) == ["CSQU3054383"] && reasons(d[4]) == [["seenOnOtherOccupancy"]] && d[4]["ocrSuspect"] as? Bool == true, "\(d[4])")
        // 6: sent twice, kept once.  7: a malformed message before it, refused with the reason.
        #expect(numbers(d[5]) == ["GESU3388126"] && numbers(d[6]) == ["TEMU9004553"])
        #expect(agent.stderr.contains("was refused: confidence \"abc\" is not a number"), "\(agent.stderr.suffix(3_000))")
        // 8: stamped 15 s after the trigger: fits no occupancy, recorded as unmatched.
        #expect(numbers(d[7]).isEmpty)
        #expect(agent.stderr.contains("OCR read matches no occupancy (recorded as unmatched): TRLU5122333"))
        let summary = agent.stderr.split(separator: "\n").first { $0.contains("ocr: ") && $0.contains("messages (") } ?? ""
        #expect(summary.contains("1 malformed") && summary.contains("1 unmatched") && summary.contains("1 duplicates") && summary.contains("2 connects"), "\(summary)")

        // The VM-250 stream: a CN line per container after the occupancy's GX, and one for the late read.
        #expect(vm.contains("CN,000001,HLXU8034159,000097,000000\r\nCN,000001,HLXU8034164,000097,000000\r\n"), "\(vm.suffix(1_500))")
        #expect(vm.contains("CN,000003,TGHU4581235,"), "the late read's line")
        if let gx3 = vm.range(of: "GX,000003,"), let cn3 = vm.range(of: "CN,000003,") { #expect(gx3.lowerBound < cn3.lowerBound) }

        // The collector: the decision stored before the late read now carries it; the unmatched read is listed.
        var stored: [[String: Any]] = []
        for _ in 0..<40 {
            let occ = try Child("lane-collector", ["occupancies", "--db", dir + "/cas.sqlite"], dir: dir, name: "occ-\(UInt32.random(in: 0...UInt32.max))")
            _ = await occ.finish(timeoutS: 30)
            stored = occ.jsonLines().compactMap { $0["decision"] as? [String: Any] }
            if stored.count == 8 && stored[2]["ocrAmendedBy"] != nil { break }
            await pause(0.5)
        }
        #expect(stored.count == 8, "\(collector.stderr.suffix(1_000))")
        if stored.count == 8 {
            #expect(numbers(stored[2]) == ["TGHU4581235"] && stored[2]["container"] as? String == "TGHU4581235" && stored[2]["ocrAmendedBy"] != nil, "\(stored[2])")
            #expect(numbers(stored[0]) == ["HLXU8034159", "HLXU8034164"])
        }
        let ocrList = try Child("lane-collector", ["ocr", "--db", dir + "/cas.sqlite"], dir: dir, name: "ocr-list")
        _ = await ocrList.finish(timeoutS: 30)
        let unmatched = ocrList.jsonLines()
        #expect(unmatched.count == 1 && (unmatched.first?["read"] as? [String: Any]).map(numbers) == ["TRLU5122333"], "\(ocrList.stdout)")
    }

    @Test("an agent that listens takes an OCR system's XML messages: reads attach, every malformed message is refused with its reason and counted, a dropped connection is taken again, a peer not allowed is refused")
    func listeningXML() throws {  // synchronous: its messages are timed to the trucks, and an async test can wait long for a thread
        let dir = scratch("ocr-xml")
        let modbusPort = freePort(), ocrPort = freePort()
        let ocr = """
            ocr:
              listen: 127.0.0.1:\(ocrPort)
              allow: [127.0.0.1]
              format: xml
              root: ANPR
              fields: {container: ContainerNumber, confidence: "@conf", time: "@time", plate: LicencePlate}
              time: unixMs
              confidence: fraction
              minConfidence: 60
              messageBytesMax: 512
            """
        let base = try simBoardBase()
        let withoutOCR = base.components(separatedBy: "\nocr:")[0] + "\n" + base.components(separatedBy: "\nocr:")[1].split(separator: "\n").drop { $0.hasPrefix(" ") }.joined(separator: "\n")
        try (withoutOCR + "\n" + ocr + "\n").write(toFile: dir + "/board.yaml", atomically: true, encoding: .utf8)
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "20"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", dir + "/board.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                                             "--vm250-port", String(freePort()), "--duration", "40"], dir: dir, name: "agent")
        defer { agent.stop() }
        let client = try #require(OCRClient(port: ocrPort), "the agent does not listen: \(agent.stderr)")
        // A peer not in ocr.allow is refused (and its message never read).
        if let stranger = OCRClient(port: ocrPort, source: "127.0.0.2") {
            stranger.send("<ANPR><ContainerNumber>EGHU9120334</ContainerNumber></ANPR>\n")
            usleep(500_000)
            stranger.close()
        }
        func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
        func good(_ n: String, _ n2: String? = nil) -> String {
            "<?xml version=\"1.0\"?><ANPR time=\"\(now())\"><ContainerNumber conf=\"0.93\">\(n)</ContainerNumber>"
                + (n2.map { "<ContainerNumber conf=\"0.41\">\($0)</ContainerNumber>" } ?? "") + "<LicencePlate>AB-123</LicencePlate></ANPR>\n"
        }
        // The e2e scenario's first truck is in the lane from 9 s to about 21 s, its second from 23 s to about 35 s.
        sleep(12)
        client.send(good("MSCU 123456-6", "TGHU4581235"))
        let bad: [(String, [UInt8])] = [
            ("a closing tag does not match", Array("<ANPR time=\"\(now())\"><ContainerNumber>X</Container></ANPR>\n".utf8)),
            ("container \"MSCU12345661234567890\" is not 1 to 16", Array("<ANPR><ContainerNumber>MSCU12345661234567890</ContainerNumber></ANPR>".utf8)),
            ("confidence 1.7 is outside 0...1", Array("<ANPR><ContainerNumber conf=\"1.7\">MSCU1234566</ContainerNumber></ANPR>".utf8)),
            ("time \"yesterday\" is not milliseconds since 1970", Array("<ANPR time=\"yesterday\"><ContainerNumber>MSCU1234566</ContainerNumber></ANPR>".utf8)),
            ("5 container numbers in one read", Array(("<ANPR>" + String(repeating: "<ContainerNumber>MSCU1234566</ContainerNumber>", count: 5) + "</ANPR>").utf8)),
            ("not UTF-8 text", Array("<ANPR><ContainerNumber>MSCU".utf8) + [0xFF, 0xFE] + Array("</ContainerNumber></ANPR>".utf8)),
            ("the document is cut short", Array("<Other><ANPR><ContainerNumber>MSCU1234566</ContainerNumber></ANPR>".utf8)),
            ("longer than 512 bytes", Array(("<ANPR>" + String(repeating: "<Pad>xxxxxxxx</Pad>", count: 40)).utf8)),
        ]
        for (_, bytes) in bad { client.send(bytes) }
        client.send("</ANPR>\n")  // ends the over-long one (skipped)
        sleep(1)
        client.close()  // the OCR system drops the connection, then comes back for the second truck
        sleep(11)
        let again = try #require(OCRClient(port: ocrPort))
        again.send(good("CSQU3054383"))
        #expect(agent.wait(timeoutS: 60) == 0, "\(agent.stderr.suffix(2_000))")
        again.close()

        let (d, _) = splitOutput(agent.jsonLines())
        let first = try #require(d.first)
        #expect(numbers(first) == ["MSCU1234566", "TGHU4581235"], "spaces and dashes removed: \(first)")
        let confidences = ((first["containers"] as? [[String: Any]]) ?? []).map { ($0["confidence"] as? NSNumber)?.intValue ?? -1 }
        #expect(confidences == [93, 41] && reasons(first) == [[], ["lowConfidence"]] && first["plate"] as? String == "AB-123", "\(first)")
        for (why, _) in bad { #expect(agent.stderr.contains(why), "the log names the reason '\(why)': \(agent.stderr.suffix(3_000))") }
        #expect(agent.stderr.contains("the OCR system at 127.0.0.1 connected"))
        #expect(agent.stderr.contains("a connection from 127.0.0.2 was refused: not in ocr.allow") && !agent.stdout.contains("EGHU9120334"), "\(agent.stderr.prefix(2_000))")
        let summary = agent.stderr.split(separator: "\n").first { $0.contains("ocr: ") && $0.contains("messages (") } ?? ""
        #expect(summary.contains("\(bad.count) malformed") && summary.contains("2 connects") && summary.contains("1 disconnects"), "\(summary)")
        #expect(summary.contains("reads 2 attached"), "\(summary)")
        #expect(d.count >= 2 && numbers(d[1]) == ["CSQU3054383"], "the read after the reconnection went to the second truck: \(d)")
    }
}
