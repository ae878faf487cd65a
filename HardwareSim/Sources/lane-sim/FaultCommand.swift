// The simulator's field faults, in one grammar for the control socket (`fault ...`) and for a
// scenario's `faults:` list (docs/SIMULATOR.md, "Faults"): parsed once into a value, checked
// before anything runs, applied by the simulator's loop.
//
//   <panel 1..N | all> silent|wrongtid|otherunit|badcrc|truncated|restart [count]
//   <panel 1..N | all> late|stall <ms> [count]  |  exception <code> [count]
//   <panel 1..N | all> frozen | status <value> | hv <volts> | tamper | temperature <tenths C> | readonly | clear
//   beam <0|1> stuckblocked | stuckclear | chatter <hz> | clear
//   rtu hangup <ms> | dropbytes <count> | clear

enum FaultCommand: Equatable {
    case panel(targets: [Int], PanelAction)
    case beam(Int, BeamFault)
    case rtu(RTUFault)

    enum PanelAction: Equatable {
        case clear, frozen
        case status(UInt16)
        case highVoltage(UInt16)
        case tamper
        case readOnly
        case temperature(Int16)
        case misbehave(PanelFaults.Kind, value: Int, count: Int)
    }

    static func usage(panels n: Int) -> String {
        "usage: fault <panel 1..\(n)|all> <silent|late MS|stall MS|exception CODE|wrongtid|otherunit|badcrc|truncated|restart> [count] | frozen | status VALUE | hv VOLTS | tamper | temperature TENTHS_C | readonly | clear; "
            + "fault beam <0|1> <stuckblocked|stuckclear|chatter HZ|clear>; fault rtu <hangup MS|dropbytes N|clear>"
    }

    /// Parses the words after `fault`; the error says what is wrong.
    static func parse(_ a: [String], panels n: Int) -> Result<FaultCommand, FaultCommandError> {
        func fail(_ s: String) -> Result<FaultCommand, FaultCommandError> { .failure(FaultCommandError(message: s)) }
        guard a.count >= 2 else { return fail(usage(panels: n)) }
        let rest = Array(a.dropFirst(2))
        func number(_ i: Int, _ range: ClosedRange<Int>) -> Int? { i < rest.count ? Int(rest[i]).flatMap { range.contains($0) ? $0 : nil } : nil }
        switch a[0] {
        case "beam":
            guard let b = Int(a[1]), b == 0 || b == 1 else { return fail("beam must be 0 or 1") }
            guard a.count >= 3 else { return fail(usage(panels: n)) }
            switch a[2] {
            case "stuckblocked": return .success(.beam(b, .stuck(blocked: true)))
            case "stuckclear": return .success(.beam(b, .stuck(blocked: false)))
            case "chatter":
                guard a.count == 4, let hz = Int(a[3]), (1...200).contains(hz) else { return fail("chatter takes a rate in Hz, 1..200") }
                return .success(.beam(b, .chatter(hz: hz)))
            case "clear": return .success(.beam(b, .none))
            default: return fail("unknown beam fault '\(a[2])' (stuckblocked, stuckclear, chatter HZ, clear)")
            }
        case "rtu":
            switch a[1] {
            case "hangup":
                guard a.count == 3, let ms = Int(a[2]), (0...60_000).contains(ms) else { return fail("hangup takes how long the device stays away, 0..60000 ms") }
                return .success(.rtu(.hangup(ms: ms)))
            case "dropbytes":
                guard a.count == 3, let k = Int(a[2]), (1...10_000).contains(k) else { return fail("dropbytes takes a count, 1..10000") }
                return .success(.rtu(.dropBytes(k)))
            case "clear": return .success(.rtu(.none))
            default: return fail("unknown RTU fault '\(a[1])' (hangup MS, dropbytes N, clear)")
            }
        default:
            let targets: [Int]
            if a[0] == "all" { targets = Array(0..<n) } else {
                guard let p = Int(a[0]), (1...n).contains(p) else { return fail("panel must be 1..\(n), all, beam or rtu") }
                targets = [p - 1]
            }
            switch a[1] {
            case "clear": return .success(.panel(targets: targets, .clear))
            case "frozen": return .success(.panel(targets: targets, .frozen))
            case "status":
                guard let v = number(0, 0...0xFFFF) else { return fail("status takes a register value 0..65535") }
                return .success(.panel(targets: targets, .status(UInt16(v))))
            case "hv":
                guard rest.count == 1, let v = number(0, 0...0xFFFF) else { return fail("hv takes the high voltage the panel reports, 0..65535 V") }
                return .success(.panel(targets: targets, .highVoltage(UInt16(v))))
            case "tamper":
                guard rest.isEmpty else { return fail("tamper takes no value") }
                return .success(.panel(targets: targets, .tamper))
            case "readonly":
                guard rest.isEmpty else { return fail("readonly takes no value") }
                return .success(.panel(targets: targets, .readOnly))
            case "temperature":
                guard rest.count == 1, let v = Int(rest[0]), (-32768...32767).contains(v) else {
                    return fail("temperature takes the temperature the panel reports, in tenths of a degree C, -32768..32767")
                }
                return .success(.panel(targets: targets, .temperature(Int16(v))))
            default:
                guard let kind = PanelFaults.Kind(rawValue: a[1]), kind != .none else { return fail("unknown panel fault '\(a[1])'; " + usage(panels: n)) }
                let takesValue = kind == .late || kind == .stall || kind == .exception
                var value = 0
                if takesValue {
                    guard let v = number(0, kind == .exception ? 1...255 : 1...60_000) else {
                        return fail("\(a[1]) takes a value (\(kind == .exception ? "code 1..255" : "ms 1..60000"))")
                    }
                    value = v
                }
                let countIndex = takesValue ? 1 : 0
                var count = -1
                if countIndex < rest.count {
                    guard let c = number(countIndex, 1...1_000_000), rest.count == countIndex + 1 else { return fail("count must be 1..1000000 replies") }
                    count = c
                }
                return .success(.panel(targets: targets, .misbehave(kind, value: value, count: count)))
            }
        }
    }

    /// The command that ends this one (a scenario fault's end).
    var clearing: FaultCommand {
        switch self {
        case let .panel(targets, _): return .panel(targets: targets, .clear)
        case let .beam(b, _): return .beam(b, .none)
        case .rtu: return .rtu(.none)
        }
    }
}

struct FaultCommandError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

enum BeamFault: Equatable {
    case none
    case stuck(blocked: Bool)
    case chatter(hz: Int)
}

enum RTUFault: Equatable {
    case none
    /// The device goes away (the agent's side sees a hang-up) and comes back this much later.
    case hangup(ms: Int)
    /// The next replies lose this many bytes in all (a noisy line).
    case dropBytes(Int)
}

extension PanelBank {
    /// Applies a panel action. Call with the bank's lock held.
    func apply(_ targets: [Int], _ action: FaultCommand.PanelAction) {
        for p in targets {
            switch action {
            case .clear: faults[p] = PanelFaults()
            case .frozen: faults[p].frozen = true
            case let .status(v): faults[p].status = v
            case let .highVoltage(v): faults[p].highVoltage = v
            case .tamper: faults[p].tamper = true
            case .readOnly: faults[p].readOnly = true
            case let .temperature(t): faults[p].temperatureDeci = t
            case let .misbehave(kind, value, count):
                faults[p].kind = kind
                faults[p].value = value
                faults[p].remaining = count
            }
        }
    }
}
