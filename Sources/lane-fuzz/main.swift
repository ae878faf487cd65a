// lane-fuzz: libFuzzer harnesses for everything that reads bytes from outside (docs/FUZZING.md).
//
//     lane-fuzz <target> [libFuzzer options] [corpus directories]
//
// Built by `scripts/fuzz.sh` with `-sanitize=fuzzer`, it fuzzes; built by the ordinary
// `swift build`, it replays the files it is given (the committed corpora in Fuzz/corpus, a
// regression test run by `make test`). Each target checks a property, not only "no crash".

import CFuzzDriver
import Foundation
import LaneAgent
import LaneCollector
import LaneConsole
import LaneCore
import LaneHAL
import LaneTrace

let targets = ["records", "trace", "replay", "console-line", "console-command", "profile", "modbus-reply", "gpio-line", "collector", "station-ack", "ocr-message"]

func fail(_ why: String) -> Never {
    FileHandle.standardError.write(Data("lane-fuzz: property violated: \(why)\n".utf8))
    abort()
}

// MARK: records: the frame reader, and encode-decode-encode gives the same bytes

func fuzzRecords(_ p: UnsafeBufferPointer<UInt8>) {
    guard let base = p.baseAddress else { return }
    var reader = FrameReader(base, count: p.count)
    var end = 0
    var enc = RecordEncoder()
    var first = [UInt8](repeating: 0, count: RecordFormat.frameMax)
    var second = [UInt8](repeating: 0, count: RecordFormat.frameMax)
    while let f = reader.next() {
        let range: Range<Int>
        switch f {
        case let .record(h, r, bytes):
            range = bytes
            // What the lane would write for this record, read back and written again: the same.
            guard let n1 = first.withUnsafeMutableBufferPointer({ enc.encode(r, header: h, into: $0.baseAddress!, capacity: $0.count) }) else { fail("a decoded record does not encode") }
            let again: (FrameHeader, Record)? = first.withUnsafeBufferPointer { b in
                var rr = FrameReader(b.baseAddress!, count: n1)
                if case let .record(h2, r2, _)? = rr.next() { return (h2, r2) }
                return nil
            }
            guard let (h2, r2) = again, h2 == h else { fail("an encoded record does not decode to its header") }
            guard let n2 = second.withUnsafeMutableBufferPointer({ enc.encode(r2, header: h2, into: $0.baseAddress!, capacity: $0.count) }),
                  n1 == n2, first.prefix(n1) == second.prefix(n2) else { fail("encode(decode(encode(r))) differs from encode(r)") }
        case let .rejected(_, bytes): range = bytes
        case let .truncated(bytes): range = bytes
        }
        guard range.lowerBound == end, range.upperBound > range.lowerBound else { fail("the reader skipped or repeated bytes: \(range) after \(end)") }
        end = range.upperBound
    }
    guard end == p.count else { fail("the reader stopped at \(end) of \(p.count)") }
}

// MARK: trace: every line read or refused with its line number

func fuzzTrace(_ p: UnsafeBufferPointer<UInt8>) {
    var reader = TraceReader()
    var start = 0
    for i in 0...p.count where i == p.count || p[i] == 0x0A {
        do throws(TraceError) { _ = try reader.read(line: UnsafeBufferPointer(rebasing: p[start..<i])) } catch {
            guard error.line >= 1 else { fail("an error without a line number: \(error)") }
        }
        start = i + 1
    }
}

// MARK: replay: the trace through the engine and the decision writer

func fuzzReplay(_ p: UnsafeBufferPointer<UInt8>) {
    let empty: [UInt8] = [0]
    let fd = p.baseAddress.map { lane_fuzz_memory_file($0, p.count) } ?? empty.withUnsafeBufferPointer { lane_fuzz_memory_file($0.baseAddress!, 0) }
    guard fd >= 0 else { fail("memfd_create: \(errno)") }
    defer { close(fd) }
    try? Replay.run(fd: fd, board: nil) { line in
        guard line.hasPrefix("{"), line.hasSuffix("}") else { fail("a decision line that is not an object: \(line)") }
    }
}

// MARK: console-line: the line editor never holds more than a line

struct Discard: ConsoleByteSink {
    var bytes = 0
    mutating func put(_ byte: UInt8) { bytes += 1 }
}

func fuzzConsoleLine(_ p: UnsafeBufferPointer<UInt8>) {
    var editor = LineEditor()
    var out = Discard()
    editor.begin(&out)
    for b in p {
        switch editor.feed(b, &out) {
        case .line?:
            guard editor.line.count <= ConsoleLine.capacity else { fail("a line of \(editor.line.count) bytes") }
            editor.begin(&out)  // as the console session does after each of these
        case .lineTooLong?, .interrupt?: editor.begin(&out)
        default: break
        }
        guard editor.cursor >= 0 && editor.cursor <= editor.line.count else { fail("cursor \(editor.cursor) outside the line") }
    }
}

// MARK: console-command: any typed line gets an outcome, never a crash

final class IdleLane: ConsoleLane, @unchecked Sendable {
    let monitor = LaneMonitor()
    func awaitApplied(_ sequence: Int, timeoutUs: Int64) -> Bool { false }
    func panelSlots(into out: inout [PanelSlot]) {}
    func busRequest(_ r: BusRequest) -> BusReply { .failed("no bus in the fuzzer") }
    var busFigures: ConsoleBusFigures { ConsoleBusFigures() }
    var eventQueueFigures: (pushed: Int, dropped: Int) { (0, 0) }
}

nonisolated(unsafe) var consoleSession: ConsoleSession? = nil

func fuzzConsoleCommand(_ p: UnsafeBufferPointer<UInt8>) {
    if consoleSession == nil {
        signal(SIGPIPE, SIG_IGN)
        guard let profile = try? BoardProfile.load(path: "Boards/sim.yaml") else { fail("run lane-fuzz from the package root (Boards/sim.yaml)") }
        var fds: [Int32] = [0, 0]
        socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds)
        close(fds[1])  // questions a command asks read end-of-file: cancelled
        let hub = ConsoleHub(profile: profile, lane: IdleLane(), logRing: LogRing(), log: { _ in })
        consoleSession = ConsoleSession(hub: hub, fd: fds[0], place: "fuzz", closesOnExit: false, stop: { false })
    }
    let line = String(decoding: p.prefix(ConsoleLine.capacity), as: UTF8.self)
    let r = consoleSession!.execute(line)
    if case let .failed(why) = r.outcome, why.isEmpty { fail("a failure without a message for \(line.debugDescription)") }
}

// MARK: profile: a board profile is loaded or refused with file, line and key

func fuzzProfile(_ p: UnsafeBufferPointer<UInt8>) {
    let text = String(decoding: p, as: UTF8.self)
    do { _ = try BoardProfile.parse(text, file: "fuzz.yaml", mapDirectory: "Boards") } catch {
        guard "\(error)".contains("fuzz.yaml") else { fail("a refusal that does not name the file: \(error)") }
    }
}

// MARK: modbus-reply: any register values through decoding, counter deltas and the controller

func fuzzModbusReply(_ p: UnsafeBufferPointer<UInt8>) {
    let map = PanelRegisterMap.referencePanelV1
    var settings = EngineSettings()
    settings.panelCount = 4
    var controller = LaneController(settings: settings,
                                    config: .init(panelSilentAfterPolls: 3, status: StatusMasks(ok: map.statusOkMask, tamper: map.tamperMask, fault: map.statusFaultMask),
                                                  keepsRecords: true, vm250: true, profileHash: 0),
                                    sirenUs: 5_000_000, lightHoldUs: 10_000_000, originUs: 0)
    struct Sink: LaneSink {
        mutating func record(_ r: Record, monotonicUs: Int64, wallUs: Int64, commit: Bool) {}
        mutating func event(_ e: AgentEvent) {}
        mutating func vm250(_ e: VMEvent) {}
    }
    var sink = Sink()
    var slots = Array(repeating: PanelSlot(), count: 4)
    var registers = [UInt16](repeating: 0, count: 12)
    var previous = PanelReading()
    let edges = EdgeBuffer()
    var k = 0
    var at = 0
    while at + 25 <= p.count {
        for i in 0..<12 { registers[i] = UInt16(p[at + 2 * i]) << 8 | UInt16(p[at + 2 * i + 1]) }
        let panel = Int(p[at + 24] & 3)
        at += 25
        let reading = registers.withUnsafeBufferPointer { map.decode($0.baseAddress!) }
        let d = CounterDelta(from: previous, to: reading)
        if d.restarted { guard d.gamma == reading.gammaTotal else { fail("a restart's counts are not the counts since: \(d)") } }
        previous = reading
        k += 1
        slots[panel].reading = reading
        slots[panel].sequence += 1
        slots[panel].polledUs = Int64(k) * 100_000
        _ = controller.tick(TickClock(nowUs: Int64(k) * 100_000, wallUs: 0), edges: edges, slots: slots, outputFailures: 0, sink: &sink)
        guard controller.view.faults.bits >> UInt32(Faults.bitCount) == 0 else { fail("a fault bit beyond the defined ones") }
    }
}

// MARK: gpio-line: the simulator's EDGE lines

func fuzzGPIOLine(_ p: UnsafeBufferPointer<UInt8>) {
    var start = 0
    for i in 0...p.count where i == p.count || p[i] == 0x0A {
        if case let .edge(e) = EdgeLine.parse(UnsafeBufferPointer(rebasing: p[start..<i])) {
            guard e.beam == 0 || e.beam == 1, e.tUs >= 0 else { fail("an edge out of range: \(e)") }
        }
        start = i + 1
    }
}

// MARK: collector: any payload on a records topic is stored or refused, counted

nonisolated(unsafe) var collector: Collector? = nil
nonisolated(unsafe) var collectorStore: Database? = nil

func fuzzCollector(_ p: UnsafeBufferPointer<UInt8>) {
    if collector == nil {
        guard let db = try? Database(path: ":memory:") else { fail("cannot open an in-memory store") }
        collectorStore = db
        collector = Collector(database: db, clientID: "fuzz") { _ in }
    }
    let c = collector!
    let before = (c.stored, c.duplicates, c.rejected)
    // The first byte picks the topic's kind (the collector must not trust it).
    let kind = p.first.map { RecordKind(rawValue: $0 % 9) ?? .samples } ?? .samples
    c.handle(topic: "rpm/FUZZ/LANE-\(p.count % 3)/records/\(kind.name)", payload: Array(p))
    guard c.stored >= before.0, c.duplicates >= before.1, c.rejected >= before.2 else { fail("counters went backwards") }
    // The listing that once crashed on a forged sequence.
    guard (try? collectorStore!.lanes()) != nil else { fail("the store cannot list its lanes") }
}

// MARK: station-ack: the collector's acknowledgement as the lane reads it

func fuzzStationAck(_ p: UnsafeBufferPointer<UInt8>) {
    if case let .success(a) = StationAck.parse(Array(p)) {
        guard a.through <= RecordParser.sequenceMax, a.missing.count <= StationAck.missingMax else { fail("an acknowledgement out of range: \(a)") }
        guard case let .success(b) = StationAck.parse(a.json()), b == a else { fail("an acknowledgement does not survive json(): \(a)") }
    }
}

// MARK: ocr-message: a gate OCR's message, as a line (the simulator's pattern) or an XML document

let ocrLine = try! OCRMessageParser(OCRFormat(kind: .line(pattern: OCRFormat.simulatorPattern)))
let ocrXML = try! OCRMessageParser({
    var f = OCRFormat(kind: .xml(root: "ANPR", container: "ContainerNumber", confidence: "@conf", time: "Time", plate: "LicencePlate"))
    f.time = .unixMs
    f.confidence = .fraction
    return f
}())

/// The first byte chooses the format (even: line, odd: XML); the rest is the message.
func fuzzOCRMessage(_ p: UnsafeBufferPointer<UInt8>) {
    guard let first = p.first else { return }
    guard let text = String(validating: p.dropFirst(), as: UTF8.self) else { return }  // the input thread refuses non-UTF-8 first
    switch (first % 2 == 0 ? ocrLine : ocrXML).parse(text) {
    case let .success(m):
        guard m.numbers.count <= 4 else { fail("more than 4 numbers accepted") }
        for (n, c) in m.numbers {
            guard ContainerNumber(ascii: Array(n.utf8)) != nil else { fail("an accepted number the lane cannot hold: \(n)") }
            guard c <= 100 || c == ContainerRead.unknownConfidence else { fail("a confidence out of range: \(c)") }
        }
        if let plate = m.plate, ContainerNumber(ascii: Array(plate.utf8)) == nil { fail("an accepted plate the lane cannot hold: \(plate)") }
    case let .failure(e):
        guard !e.description.isEmpty else { fail("a refusal without a reason") }
    }
}

// MARK: dispatch

var args = CommandLine.arguments
guard args.count >= 2, targets.contains(args[1]) else {
    FileHandle.standardError.write(Data("usage: lane-fuzz <\(targets.joined(separator: "|"))> [libFuzzer options] [corpus directories]\n".utf8))
    exit(2)
}
let target = args.remove(at: 1)
nonisolated(unsafe) var body: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }
switch target {
case "records": body = fuzzRecords
case "trace": body = fuzzTrace
case "replay": body = fuzzReplay
case "console-line": body = fuzzConsoleLine
case "console-command": body = fuzzConsoleCommand
case "profile": body = fuzzProfile
case "modbus-reply": body = fuzzModbusReply
case "gpio-line": body = fuzzGPIOLine
case "collector": body = fuzzCollector
case "ocr-message": body = fuzzOCRMessage
default: body = fuzzStationAck
}
var cargs = args.map { strdup($0) } + [nil]
let rc = lane_fuzz_run(Int32(args.count), &cargs) { data, size in
    body(UnsafeBufferPointer(start: data, count: size))
    return 0
}
exit(rc)
