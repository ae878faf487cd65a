// libgpiod 1.6 (the legacy API of Debian 12): the only file that calls it. Lines are requested
// at start-up; edges are read without waiting. Since Linux 5.7 line events carry
// CLOCK_MONOTONIC timestamps, the same clock as the tick.

import CGPIOD
import LaneCore
#if canImport(Glibc)
import Glibc
#endif

/// A GPIO line as a profile names it: its offset on the chip, or the name the device tree gives it.
public enum GPIOLine: Sendable, Equatable, CustomStringConvertible {
    case offset(Int)
    case name(String)
    public var description: String {
        switch self {
        case let .offset(o): return "line \(o)"
        case let .name(n): return "line '\(n)'"
        }
    }
}

public struct GPIODConfig: Sendable, Equatable {
    /// A chip label (`pinctrl-bcm2711`) or name (`gpiochip0`).
    public var chip: String
    /// The entry and exit beams.
    public var beams: [GPIOLine]
    /// True when the beam receiver drives its line low while the beam is interrupted.
    public var beamActiveLow: Bool
    public var outputs: [LaneOutputLine]
    public init(chip: String, beams: [GPIOLine], beamActiveLow: Bool, outputs: [LaneOutputLine]) {
        self.chip = chip; self.beams = beams; self.beamActiveLow = beamActiveLow; self.outputs = outputs
    }
}

public struct LaneOutputLine: Sendable, Equatable {
    public var output: Int
    public var line: GPIOLine
    public init(output: LaneOutput, line: GPIOLine) { self.output = output.rawValue; self.line = line }
}

public final class GPIODLines: DigitalLines {
    let chip: OpaquePointer
    var beams: [OpaquePointer] = []
    var outputs: [OpaquePointer?] = Array(repeating: nil, count: LaneOutput.allCases.count)
    var events = [gpiod_line_event](repeating: gpiod_line_event(), count: 16)
    public private(set) var dropCount = 0

    /// Every error names the profile entry (`gpio.beams[0]`, `gpio.outputs.siren`), the line and why.
    public init(_ config: GPIODConfig, consumer: String = "lane-agent") throws(DigitalLinesError) {
        guard let c = gpiod_chip_open_by_label(config.chip) ?? gpiod_chip_open_lookup(config.chip) else {
            throw DigitalLinesError("gpio.chip: GPIO chip '\(config.chip)' not found (by label or name; gpiodetect lists them): \(errnoText(errno))")
        }
        chip = c
        var taken: [UInt32: String] = [:]
        func line(_ ref: GPIOLine, _ entry: String) throws(DigitalLinesError) -> OpaquePointer {
            let found: OpaquePointer?
            switch ref {
            case let .offset(o): found = gpiod_chip_get_line(c, UInt32(o))
            case let .name(n): found = gpiod_chip_find_line(c, n)
            }
            guard let l = found else {
                throw DigitalLinesError("\(entry): GPIO chip '\(config.chip)' has no \(ref) (gpioinfo \(config.chip) lists its lines)")
            }
            let offset = gpiod_line_offset(l)
            if let other = taken[offset] { throw DigitalLinesError("\(entry): \(ref) is line \(offset), already used by \(other)") }
            taken[offset] = entry
            return l
        }
        func busy(_ l: OpaquePointer, _ code: Int32) -> String {
            guard code == EBUSY else { return errnoText(code) }
            let holder = gpiod_line_consumer(l).map { String(cString: $0) } ?? "another program"
            return "\(errnoText(code)) (held by \(holder))"
        }
        for (i, ref) in config.beams.enumerated() {
            let entry = "gpio.beams[\(i)]"
            let l = try line(ref, entry)
            let flags = config.beamActiveLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
            guard gpiod_line_request_both_edges_events_flags(l, consumer, flags) == 0 else {
                let code = errno
                throw DigitalLinesError("\(entry) (\(ref)): cannot request edge events: \(busy(l, code))")
            }
            beams.append(l)
        }
        for o in config.outputs {
            let name = LaneOutput(rawValue: o.output)!.name
            let entry = "gpio.outputs.\(name)"
            let l = try line(o.line, entry)
            // Requested at its safe level: the line never shows anything else before the first tick.
            let safe: Int32 = LaneOutput(rawValue: o.output)!.safeLevel ? 1 : 0
            guard gpiod_line_request_output(l, consumer, safe) == 0 else {
                let code = errno
                throw DigitalLinesError("\(entry) (\(o.line)): cannot request as output: \(busy(l, code))")
            }
            outputs[o.output] = l
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
