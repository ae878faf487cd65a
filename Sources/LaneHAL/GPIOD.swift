// libgpiod 1.6 (the legacy API of Debian 12): the only file that calls it. Lines are requested
// at start-up; edges are read without waiting. Since Linux 5.7 line events carry
// CLOCK_MONOTONIC timestamps, the same clock as the tick.

import CGPIOD
import LaneCore
#if canImport(Glibc)
import Glibc
#endif

public struct GPIODConfig: Sendable, Equatable {
    /// A chip label (`pinctrl-bcm2711`) or name (`gpiochip0`).
    public var chip: String
    public var beamOffsets: [Int]
    /// True when the beam receiver drives its line low while the beam is interrupted.
    public var beamActiveLow: Bool
    public var outputOffsets: [LaneOutputOffset]
    public init(chip: String, beamOffsets: [Int], beamActiveLow: Bool, outputOffsets: [LaneOutputOffset]) {
        self.chip = chip; self.beamOffsets = beamOffsets; self.beamActiveLow = beamActiveLow; self.outputOffsets = outputOffsets
    }
}

public struct LaneOutputOffset: Sendable, Equatable {
    public var output: Int
    public var offset: Int
    public init(output: LaneOutput, offset: Int) { self.output = output.rawValue; self.offset = offset }
}

public final class GPIODLines: DigitalLines {
    let chip: OpaquePointer
    var beams: [OpaquePointer] = []
    var outputs: [OpaquePointer?] = Array(repeating: nil, count: LaneOutput.allCases.count)
    var events = [gpiod_line_event](repeating: gpiod_line_event(), count: 16)
    public private(set) var dropCount = 0

    public init(_ config: GPIODConfig, consumer: String = "lane-agent") throws(DigitalLinesError) {
        guard let c = gpiod_chip_open_by_label(config.chip) ?? gpiod_chip_open_lookup(config.chip) else {
            throw DigitalLinesError("GPIO chip '\(config.chip)' not found (by label or name): \(errnoText(errno))")
        }
        chip = c
        for (i, off) in config.beamOffsets.enumerated() {
            guard let line = gpiod_chip_get_line(chip, UInt32(off)) else {
                throw DigitalLinesError("GPIO chip '\(config.chip)': beam \(i) line \(off) does not exist")
            }
            let flags = config.beamActiveLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
            guard gpiod_line_request_both_edges_events_flags(line, consumer, flags) == 0 else {
                throw DigitalLinesError("GPIO line \(off) (beam \(i)): cannot request edge events: \(errnoText(errno))")
            }
            beams.append(line)
        }
        for o in config.outputOffsets {
            guard let line = gpiod_chip_get_line(chip, UInt32(o.offset)) else {
                throw DigitalLinesError("GPIO chip '\(config.chip)': output line \(o.offset) does not exist")
            }
            // Requested at its safe level: the line never shows anything else before the first tick.
            let safe: Int32 = LaneOutput(rawValue: o.output)!.safeLevel ? 1 : 0
            guard gpiod_line_request_output(line, consumer, safe) == 0 else {
                throw DigitalLinesError("GPIO line \(o.offset) (\(LaneOutput(rawValue: o.output)!.name)): cannot request as output: \(errnoText(errno))")
            }
            outputs[o.output] = line
        }
    }

    deinit { gpiod_chip_close(chip) }

    public func drainEdges(into buffer: inout EdgeBuffer) -> Int {
        var dropped = 0
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        for (beam, line) in beams.enumerated() {
            while gpiod_line_event_wait(line, &zero) == 1 {
                let n = events.withUnsafeMutableBufferPointer { p in
                    gpiod_line_event_read_multiple(line, p.baseAddress, UInt32(p.count))
                }
                if n <= 0 { break }
                for k in 0..<Int(n) {
                    let ev = events[k]
                    let t = Int64(ev.ts.tv_sec) * 1_000_000 + Int64(ev.ts.tv_nsec) / 1_000
                    // With ACTIVE_LOW requested, a rising edge is the beam becoming interrupted.
                    let blocked = ev.event_type == Int32(lane_GPIOD_LINE_EVENT_RISING_EDGE)
                    if !buffer.append(BeamEdge(tUs: t, beam: beam, blocked: blocked)) { dropped += 1 }
                }
            }
        }
        dropCount += dropped
        return dropped
    }

    @discardableResult
    public func set(_ output: LaneOutput, _ on: Bool) -> Bool {
        guard let line = outputs[output.rawValue] else { return true }  // not wired on this board
        if gpiod_line_set_value(line, on ? 1 : 0) != 0 { dropCount += 1; return false }
        return true
    }
}
