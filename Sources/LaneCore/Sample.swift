// What the engine consumes: panel counts per sample interval, beam edges, container numbers.

/// The most detector columns a lane can have. Buffers are sized for it at compile time.
public let panelCountMax = 8

/// One value per panel, fixed size (no allocation).
public typealias PanelValues = InlineArray<8, UInt32>

/// The most energy windows a multi-window panel has (reference-panel-mw-v1: K = 2 to 16).
public let windowCountMax = 16
/// A sample's energy windows, every panel's: panel p's window k at `p * windowCountMax + k`.
public typealias PanelWindows = InlineArray<128, UInt32>

/// Counts accumulated by every panel over one sample interval ending at `tUs`.
public struct LaneSample: Sendable {
    /// End of the interval, microseconds on the monotonic clock.
    public var tUs: Int64
    /// Length of the interval, microseconds (a missed poll makes it longer; counts cover it all).
    public var intervalUs: Int64
    public var gamma: PanelValues
    public var gammaLow: PanelValues
    public var neutron: PanelValues
    /// Panels that gave no usable reading for this interval (bit p = panel p; 0: all present):
    /// silent, faulted or excluded by the controller. The engine learns nothing from them and
    /// stands in their learned background in the tests (see `LaneEngine.sample`).
    public var absentMask: UInt32 = 0
    /// Multi-window panels: how many energy windows each panel counted into (K, 3 to 16; 0: a
    /// two-window sample, `windows` unused). The windows partition `gamma`, lowest energy first.
    public var windowCount: Int = 0
    public var windows: PanelWindows

    public init(tUs: Int64, intervalUs: Int64) {
        self.tUs = tUs
        self.intervalUs = intervalUs
        self.gamma = PanelValues(repeating: 0)
        self.gammaLow = PanelValues(repeating: 0)
        self.neutron = PanelValues(repeating: 0)
        self.windows = PanelWindows(repeating: 0)
    }
}

/// An edge of an occupancy beam: beam 0 is on the entry side, beam 1 on the exit side.
public struct BeamEdge: Sendable, Equatable {
    public var tUs: Int64
    public var beam: Int
    public var blocked: Bool

    public init(tUs: Int64, beam: Int, blocked: Bool) {
        self.tUs = tUs
        self.beam = beam
        self.blocked = blocked
    }
}
