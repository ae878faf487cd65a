// What the console sees of the tick, and what it may ask of it. The tick publishes a fixed-size
// view of the lane once per tick (it skips the publication rather than wait if the console is
// copying at that moment), and drains a small bounded queue of console requests at the start of
// its work. The console never touches the engine or the outputs itself.

import LaneCore
import LaneHAL
import Synchronization

public enum AlarmState: Sendable, Equatable {
    /// Sounding (siren) and lit.
    case active
    /// First acknowledgement: the siren is off, the lights stay.
    case silenced
    /// Second acknowledgement (or reset): the lights are off too.
    case cleared
}

public struct RecentAlarm: Sendable {
    /// Alarm number since the agent started (1, 2, ...): what `alarms ack N` names.
    public var number = 0
    public var occupancy: UInt32 = 0
    public var gamma = false
    public var neutron = false
    public var tUs: Int64 = 0
    public var wallUs: Int64 = 0
    public var state = AlarmState.active
}

public struct RecentEdge: Sendable {
    public var tUs: Int64 = 0
    public var beam = 0
    public var blocked = false
}

/// A copy of the lane's state, published by the tick. Fixed size: copying allocates nothing.
/// One OCR read as the tick matched it.
public struct RecentOCR: Sendable {
    public enum Outcome: UInt8, Sendable { case attached, amended, unmatched, duplicate }
    public var atUs: Int64 = 0
    public var outcome = Outcome.attached
    /// The occupancy (0: unmatched) and what it holds now (unmatched: the read's own numbers).
    public var occupancy: UInt32 = 0
    public var reads = OCRAttachment()
    public init() {}
}

public struct LaneView: Sendable {
    public static let alarmsMax = 16
    public static let edgesMax = 8

    public var published = false
    public var nowUs: Int64 = 0
    public var originUs: Int64 = 0
    public var ticks: Int64 = 0
    public var missedTicks: Int64 = 0
    public var maxLatenessUs: Int64 = 0
    /// Tick lateness and work percentiles (microseconds), refreshed once a second.
    public var latenessP50Us: Int64 = 0, latenessP99Us: Int64 = 0, latenessP999Us: Int64 = 0
    public var durationP50Us: Int64 = 0, durationP99Us: Int64 = 0, durationMaxUs: Int64 = 0
    public var edgeDrops = 0
    /// Heap allocations on the tick thread after warm-up, over this many ticks (-1: not counted).
    public var tickAllocations: UInt64 = 0
    public var allocationCountedTicks: Int64 = -1
    public var decisions = 0
    public var viewSkips = 0
    public var requestsApplied = 0

    public var occupied = false
    public var occupancyCount: UInt32 = 0
    public var occupancyStartUs: Int64 = 0
    public var gammaAlarmActive = false
    public var neutronAlarmActive = false
    public var faults = Faults()
    /// When each active fault was raised (the tick's clock), by fault bit.
    public var faultRaisedUs: InlineArray<16, Int64> = InlineArray(repeating: 0)
    public var lastDecision: Decision? = nil
    /// The OCR's recent results (newest last, `ocrCount` ever), and its counts.
    public static let ocrRecentMax = 4
    public var ocrRecent: InlineArray<4, RecentOCR> = InlineArray(repeating: RecentOCR())
    public var ocrCount = 0
    public var ocrAttached = 0, ocrAmended = 0, ocrUnmatched = 0, ocrDuplicates = 0

    /// Counts over the last second (up to 10 samples) per panel, and the time they cover.
    public var gamma1s = PanelValues(repeating: 0)
    public var gammaLow1s = PanelValues(repeating: 0)
    public var neutron1s = PanelValues(repeating: 0)
    public var window1sUs: Int64 = 0
    /// Multi-window panels: each panel's window counts over the same second (panel p's window
    /// k at `p * windowCountMax + k`), what the spectral test learned (the empty-lane spectrum
    /// per panel and the NORM shapes), the boundaries each panel reported, and the readings
    /// whose windows did not add up.
    public var windows1s = PanelWindows(repeating: 0)
    public var spectral = SpectralState()
    public var windowBoundariesKev = InlineArray<8, InlineArray<17, UInt16>>(repeating: InlineArray(repeating: 0))
    public var windowMismatches = 0
    public var background = Background()
    /// What the lane learned of its NORM loads (the console derives the rule from it, the
    /// background and the settings: `NormRule.current`).
    public var normLearner = NormLearner()
    /// What the lane learned of its vehicles' shielding (the console's `background`).
    public var shielding = ShieldingLearner()
    /// Vehicles the shielding learner left out as NORM-like since the agent started (`LaneEngine.shieldingNormLikeLeftOut`).
    public var shieldingNormLikeLeftOut: UInt64 = 0
    /// False while a panel has not confirmed the window split the profile asks for.
    public var spectraTrusted = true
    /// The background was restored from disk at start, this old then (-1: learned afresh).
    public var backgroundRestoredAgeUs: Int64 = -1
    public var settings = EngineSettings()
    public var sirenUs: Int64 = 0
    public var alarmLightHoldUs: Int64 = 0
    /// Settings handed to the tick and waiting for the lane to be empty.
    public var settingsPending = false

    public var beamBlocked: InlineArray<2, Bool> = [false, false]
    public var beamChangedUs: InlineArray<2, Int64> = [0, 0]
    public var beamChanges: InlineArray<2, Int> = [0, 0]
    public var edges: InlineArray<8, RecentEdge> = InlineArray(repeating: RecentEdge())
    public var edgeCount = 0

    public var alarms: InlineArray<16, RecentAlarm> = InlineArray(repeating: RecentAlarm())
    public var alarmCount = 0
    public var alarmsTotal = 0

    public var outputs: InlineArray<6, Bool> = InlineArray(repeating: false)
    /// An output test holds this output (-1: none).
    public var outputForced: InlineArray<6, Int8> = InlineArray(repeating: -1)
    public var maintenanceUntilUs: Int64 = 0
    /// Maintenance mode (detection unlocked) lasts until this (0: not in it), and how many
    /// times it has ended (the console reconciles its copy of the settings when this changes).
    public var unlockedUntilUs: Int64 = 0
    public var relocks = 0
    /// Each panel's health, and the panels left out of detection now.
    public var panelFlags: InlineArray<8, PanelHealth.Flags> = InlineArray(repeating: PanelHealth.Flags())
    public var excludedPanels: UInt32 = 0

    public init() {}

    /// Recent alarms, newest last.
    public func alarm(_ i: Int) -> RecentAlarm { alarms[(alarmsTotal - alarmCount + i) % Self.alarmsMax] }
    public func edge(_ i: Int) -> RecentEdge { edges[(edgeCount - min(edgeCount, Self.edgesMax) + i) % Self.edgesMax] }
    public var edgesShown: Int { min(edgeCount, Self.edgesMax) }
}

/// Requests from the console to the tick.
public enum ConsoleRequest: Sendable {
    /// First press silences, second clears (`number` nil: every alarm not yet cleared).
    case acknowledge(number: Int?)
    /// Clear every alarm at once.
    case resetAlarms
    /// Hold an output on or off until `untilUs` (an output test). Cancelled by any new alarm.
    case forceOutput(LaneOutput, on: Bool, untilUs: Int64)
    case releaseOutputs
    /// Hold background learning and mark occupancies until `untilUs` (self-test, check source).
    case maintenance(untilUs: Int64)
    /// New tunables, applied when the lane is next empty.
    case settings(EngineSettings, sirenUs: Int64, alarmLightHoldUs: Int64)
    /// Maintenance mode: detection settings may pass their safety floors until `untilUs` (0:
    /// end it now); when it ends, those beyond a floor go back to `fallback` (the profile's).
    case unlock(untilUs: Int64, fallback: TunableValues)
}

public final class LaneMonitor: Sendable {
    let view = Mutex(LaneView())
    public let requests = BoundedQueue<ConsoleRequest>(capacity: 16)

    public init() {}

    /// The tick's side: never waits (a skipped publication is counted by the caller).
    package func publish(_ v: LaneView) -> Bool {
        view.withLockIfAvailable { $0 = v } != nil
    }

    /// The console's side.
    public func snapshot() -> LaneView { view.withLock { $0 } }
    /// How many times maintenance mode has ended (without copying the whole view).
    public var relocks: Int { view.withLock { $0.relocks } }
}
