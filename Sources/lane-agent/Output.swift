import Foundation
import LaneAgent
import LaneConsole
import LaneCore
import LaneHAL
import LaneTrace
import Synchronization

let writerStop = Atomic<Bool>(false)

/// The human log on standard error, with the time since start.
final class AgentLog: @unchecked Sendable {
    let startUs = MonotonicClock.nowUs()
    let lock = NSLock()
    /// The recent lines, for the console's `log`.
    let ring = LogRing()
    func line(_ s: String) {
        let t = Double(MonotonicClock.nowUs() - startUs) / 1e6
        let text = String(format: "[lane-agent %7.2fs] ", t) + s + "\n"
        ring.append(String(format: "%9.2fs ", t) + s)
        lock.lock()
        FileHandle.standardError.write(Data(text.utf8))
        lock.unlock()
    }
}

/// Prints decisions: JSON Lines on standard output (the contract's format), a summary in the log.
final class DecisionPrinter: @unchecked Sendable {
    let settings: EngineSettings
    let log: AgentLog
    init(settings: EngineSettings, log: AgentLog) {
        self.settings = settings
        self.log = log
    }

    func handle(_ e: AgentEvent) {
        switch e {
        case let .started(occ, _):
            log.line("occupancy \(occ) started")
        case let .alarm(occ, gamma, neutron):
            log.line("occupancy \(occ): \([gamma ? "GAMMA" : nil, neutron ? "NEUTRON" : nil].compactMap { $0 }.joined(separator: " + ")) ALARM")
        case let .decision(d):
            FileHandle.standardOutput.write(Data((DecisionWriter.json(d, settings: settings) + "\n").utf8))
            let speed = d.speedMmPerS.map { decimal2(($0 + 5) / 10) + " m/s" } ?? "speed unknown"
            var verdict = [String]()
            if d.gammaAlarm { verdict.append("GAMMA ALARM" + (d.gammaTests.isEmpty ? "" : " (" + gammaTestNames(d.gammaTests).joined(separator: ", ") + ")")) }
            if d.neutronAlarm { verdict.append("NEUTRON ALARM") }
            if d.normSuspect { verdict.append("NORM suspected (no alarm)") }
            if d.notScreened && verdict.isEmpty { verdict.append("NOT SCREENED (no usable panel, or background not ready)") }
            if verdict.isEmpty { verdict.append("clear") }
            let counts = "\(d.gammaMaxCounts) counts vs threshold \(decimal2(Q16.hundredths(d.gammaMaxThresholdQ16))) (\(decimal2(Q8.hundredths(d.gammaMaxSigmaQ8))) sigma)"
            log.line("occupancy \(d.occupancy) ended: \(speed), \(verdict.joined(separator: ", ")); gamma \(counts)"
                + ", OCR: " + OCRJSON.summary(d.ocr) + (d.faults.isEmpty ? "" : ", faults: \(faultNames(d.faults))")
                + ", panels used \(panelList(d.panelsUsedMask))")
        case let .ocr(o):
            if o.isAmendment {
                // A decision already printed: the amendment goes to standard output too (docs/OCR.md).
                FileHandle.standardOutput.write(Data((OCRJSON.line(o) + "\n").utf8))
                log.line("occupancy \(o.occupancy): late OCR read, decision amended: \(OCRJSON.summary(o.reads))")
            } else {
                log.line("OCR read matches no occupancy (recorded as unmatched): \(OCRJSON.summary(o.reads))")
            }
        case let .faults(active, raised, cleared, excluded):
            var parts = [String]()
            if !raised.isEmpty { parts.append("raised \(faultNames(raised))") }
            if !cleared.isEmpty { parts.append("cleared \(faultNames(cleared))") }
            parts.append(active.isEmpty ? "lane fault-free" : "active: \(faultNames(active))")
            if excluded != 0 { parts.append("panels left out of detection: \(panelList(excluded))") }
            log.line("faults " + parts.joined(separator: "; "))
        case let .panelFaults(panel, active, raised, cleared, word):
            var parts = [String]()
            if !raised.isEmpty { parts.append("raised \(faultNames(raised))") }
            if !cleared.isEmpty { parts.append("cleared \(faultNames(cleared))") }
            parts.append(active.isEmpty ? "panel fault-free" : "active: \(faultNames(active))")
            if active.contains(.panelStatus) || active.contains(.tamper) || cleared.contains(.panelStatus) || cleared.contains(.tamper) {
                parts.append("status 0x" + String(word, radix: 16, uppercase: true))
            }
            log.line("panel \(panel) faults " + parts.joined(separator: "; "))
        }
    }
}

func faultNames(_ f: Faults) -> String {
    (0..<Faults.bitCount).filter { f.bits & (1 << UInt32($0)) != 0 }.map { Faults.name(bit: $0).description }.joined(separator: ", ")
}

func panelList(_ mask: UInt32) -> String {
    let l = (0..<panelCountMax).filter { mask & (1 << UInt32($0)) != 0 }.map(String.init)
    return l.isEmpty ? "none" : l.joined(separator: ",")
}
