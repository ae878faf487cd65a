// The simulated gate OCR (docs/SIMULATOR.md, "The OCR camera"): when the agent raises the camera
// trigger, it reads the vehicle in the portal and, after a delay, sends what it read over TCP to
// whoever is connected (the agent, as a client), as a line or as an XML document. Each vehicle
// may ask for a field fault: a misread character, no read, the read of the truck before, a
// duplicate, a dropped connection, a malformed message.

import Foundation
import LaneAgent
import LaneCore
import LaneHAL
import LaneSimCore

final class OCRCamera: @unchecked Sendable {
    enum Format: String { case line, xml }
    let format: Format
    let listener: Int32
    let port: Int
    let lock = NSLock()
    var client: Int32 = -1
    struct Pending { var dueUs: Int64; var text: String; var dropFirst: Bool; var vehicle: Int }
    var pending: [Pending] = []
    var rng: SeededRandom
    var triggered: Set<Int> = []
    let log: (String) -> Void
    private(set) var sent = 0

    init(port: Int, format: Format, seed: UInt64, log: @escaping (String) -> Void) throws {
        do throws(SysError) {
            let l = try Sys.listenTCP(host: "127.0.0.1", port: port)
            listener = l.fd
            self.port = l.port
        } catch {
            throw SimError("ocr: cannot listen on 127.0.0.1:\(port): \(error)")
        }
        self.format = format
        rng = SeededRandom(seed: seed ^ 0x0C0C_0C0C)
        self.log = log
    }

    /// The camera trigger rose: reads `truth` (vehicle index `index`; `previous` is the vehicle
    /// before it) and schedules the message.
    func trigger(nowUs: Int64, wallUs: Int64, index: Int, truth: VehicleTruth, previous: VehicleTruth?) {
        lock.lock(); defer { lock.unlock() }
        guard triggered.insert(index).inserted else { return }  // one read per vehicle
        let spec = truth.ocr ?? OCRSpec()
        let delay = spec.delayS ?? (0.5 + 2.5 * rng.unit())
        var numbers = truth.containers
        var confidence = spec.confidence ?? (90 + Int(rng.unit() * 10))
        switch spec.fault {
        case .missing?:
            log("ocr: vehicle \(truth.vehicle): nothing read (fault missing)")
            return
        case .wrongTruck?:
            numbers = previous?.containers ?? numbers
        case .misread?:
            if let first = numbers.first { numbers[0] = Self.misread(first); confidence = spec.confidence ?? 70 }
        default: break
        }
        let due = nowUs + Int64(delay * 1e6)
        let stamp = spec.fault == .phantom ? wallUs + Int64(delay * 1e6) : wallUs + 200_000
        let text = message(wallUs: stamp, numbers: numbers, confidence: confidence, plate: truth.plate)
        if spec.fault == .garbage {
            pending.append(Pending(dueUs: due, text: format == .line ? "OCR,not-a-time,\(numbers.first ?? "X"),abc,,,\n"
                                                  : "<OCRResult><Container>\(numbers.first ?? "X")</Contianer></OCRResult>\n",
                                   dropFirst: false, vehicle: truth.vehicle))
        }
        pending.append(Pending(dueUs: due, text: text, dropFirst: spec.fault == .drop, vehicle: truth.vehicle))
        if spec.fault == .duplicate { pending.append(Pending(dueUs: due + 300_000, text: text, dropFirst: false, vehicle: truth.vehicle)) }
        log("ocr: vehicle \(truth.vehicle): read \(numbers.isEmpty ? "no container" : numbers.joined(separator: ", ")) (\(confidence) %)"
            + (spec.fault.map { ", fault \($0.rawValue)" } ?? "") + String(format: ", sending in %.1f s", delay))
    }

    /// One character of `n` changed so that its check digit fails.
    static func misread(_ n: String) -> String {
        var chars = Array(n)
        for i in stride(from: min(9, chars.count - 1), through: 4, by: -1) {
            guard let d = chars[i].wholeNumberValue else { continue }
            for step in 1...9 {
                chars[i] = Character(String((d + step) % 10))
                let s = String(chars)
                if let c = ContainerNumber(ascii: Array(s.utf8)), !c.hasValidCheckDigit { return s }
            }
            chars[i] = Character(String(d))
        }
        return n + "X"
    }

    func message(wallUs: Int64, numbers: [String], confidence: Int, plate: String?) -> String {
        let time = OCRMessageParser.iso8601(wallUs: wallUs)
        switch format {
        case .line:
            let c1 = numbers.first ?? "", c2 = numbers.count > 1 ? numbers[1] : ""
            return "OCR,\(time),\(c1),\(c1.isEmpty ? "" : String(confidence)),\(c2),\(c2.isEmpty ? "" : String(confidence)),\(plate ?? "")\n"
        case .xml:
            var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><OCRResult><Time>\(time)</Time>"
            for n in numbers { s += "<Container confidence=\"\(confidence)\">\(n)</Container>" }
            if let plate { s += "<Plate>\(plate)</Plate>" }
            return s + "</OCRResult>\n"
        }
    }

    func start(stop: @escaping @Sendable () -> Bool) {
        startThread(name: "ocr-camera") { [self] in
            while !stop() {
                step(nowUs: MonotonicClock.nowUs())
                usleep(20_000)
            }
            lock.lock()
            if client >= 0 { Sys.close(client) }
            lock.unlock()
            Sys.close(listener)
        }
    }

    func step(nowUs: Int64) {
        lock.lock(); defer { lock.unlock() }
        if let c = try? Sys.accept(listener, "ocr") {
            if client >= 0 { Sys.close(client) }
            client = c
            log("ocr: the agent connected")
        }
        // A closed peer shows as readable with 0 bytes.
        if client >= 0, let ev = try? Sys.poll(client, events: Int16(POLLIN), timeoutMs: 0), ev != 0 {
            var b = [UInt8](repeating: 0, count: 256)
            let n = b.withUnsafeMutableBytes { (try? Sys.read(client, into: $0, "ocr")) ?? 0 }
            if n == 0 { Sys.close(client); client = -1; log("ocr: the agent went away") }
        }
        while let i = pending.indices.first(where: { pending[$0].dueUs <= nowUs }), client >= 0 {
            if pending[i].dropFirst {
                pending[i].dropFirst = false
                Sys.close(client)
                client = -1
                log("ocr: connection dropped before the read of vehicle \(pending[i].vehicle) (fault drop)")
                return
            }
            let bytes = Array(pending[i].text.utf8)
            let n = bytes.withUnsafeBytes { (try? Sys.send(client, $0, "ocr")) ?? -1 }
            if n != bytes.count {
                Sys.close(client)
                client = -1
                log("ocr: sending failed; waiting for the agent to connect again")
                return
            }
            pending.remove(at: i)
            sent += 1
        }
    }
}
