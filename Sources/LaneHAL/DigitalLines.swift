// The beams and the outputs, behind one small protocol: libgpiod on real boards, the
// simulator's GPIO service in development. Edge timestamps are CLOCK_MONOTONIC microseconds.

import LaneCore

/// The lane's outputs, in the order of `OutputSet`'s bits.
public enum LaneOutput: Int, CaseIterable, Sendable {
    /// `heartbeat` toggles on every tick, for an external watchdog relay (docs/BOARDS.md,
    /// "Fail-safe outputs"): when the ticks stop, it stops, and the relay drops.
    case gammaLight = 0, neutronLight, faultLight, siren, camera, heartbeat
    /// How many outputs there are (for loops on the tick, where `allCases` would allocate each
    /// time; this is computed once).
    public static let count = allCases.count

    public var name: String {
        switch self {
        case .gammaLight: return "gammaLight"
        case .neutronLight: return "neutronLight"
        case .faultLight: return "faultLight"
        case .siren: return "siren"
        case .camera: return "camera"
        case .heartbeat: return "heartbeat"
        }
    }

    /// The safe state: what the lines show before the first tick, after the last, and after a
    /// crash (`lane-agent safe-outputs`): the fault lamp on (nothing is screening), everything
    /// else off (no siren left sounding, no alarm light left lit).
    public var safeLevel: Bool { self == .faultLight }
}

public struct DigitalLinesError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public protocol DigitalLines: AnyObject {
    /// Appends the beam edges seen since the last call, oldest first; never blocks.
    /// Returns how many edges did not fit and were dropped.
    func drainEdges(into buffer: inout EdgeBuffer) -> Int
    /// Sets an output; never blocks (a line that cannot be written is counted, not waited for).
    /// False when the write failed.
    @discardableResult
    func set(_ output: LaneOutput, _ on: Bool) -> Bool
    /// Edges or writes lost since start (queue overflow, link down).
    var dropCount: Int { get }
}

/// A bounded buffer of beam edges, allocated once.
public struct EdgeBuffer: Sendable {
    public static let capacity = 64
    public private(set) var edges: InlineArray<64, BeamEdge> = InlineArray(repeating: BeamEdge(tUs: 0, beam: 0, blocked: false))
    public private(set) var count = 0
    public init() {}
    /// False when full (the caller counts the drop).
    public mutating func append(_ e: BeamEdge) -> Bool {
        guard count < Self.capacity else { return false }
        edges[count] = e
        count += 1
        return true
    }
    public mutating func removeAll() { count = 0 }
    public mutating func swapAt(_ i: Int, _ j: Int) {
        let t = edges[i]
        edges[i] = edges[j]
        edges[j] = t
    }
}
