// The engine's verdict on one occupancy (shared/contracts/lane-trace.md, "Decision").

/// Faults that bear on detection, as bits (stable: they are written into records).
public struct Faults: Sendable, Equatable {
    public var bits: UInt32
    public init(bits: UInt32 = 0) { self.bits = bits }

    public static let backgroundNotReady = Faults(bits: 1 &<< 0)
    public static let backgroundHigh = Faults(bits: 1 &<< 1)
    public static let backgroundLow = Faults(bits: 1 &<< 2)
    public static let panelSilent = Faults(bits: 1 &<< 3)
    public static let panelStatus = Faults(bits: 1 &<< 4)
    public static let beamStuck = Faults(bits: 1 &<< 5)
    /// A console test (panel self-test, check source, output test) was running: background
    /// learning is held, and an occupancy during it is marked.
    public static let maintenance = Faults(bits: 1 &<< 6)
    /// A panel reports tamper (its door or cable switch).
    public static let tamper = Faults(bits: 1 &<< 7)
    /// A detector counts far below its own learned background (or not at all) while the others
    /// do not: it is left out of detection until it recovers.
    public static let detectorDead = Faults(bits: 1 &<< 8)
    /// An output (light, siren, camera, fault lamp) could not be written.
    public static let outputFailed = Faults(bits: 1 &<< 9)
    /// The journal cannot keep records (storage full past its reserve, read-only, failing):
    /// the lane screens on; what is not kept is reported to the alarm station as a gap.
    public static let storageFailed = Faults(bits: 1 &<< 10)
    /// A technician's maintenance mode lets detection settings pass their safety floors for a
    /// while (docs/SECURITY.md): shown on the fault lamp, in every decision and heartbeat.
    public static let detectionUnlocked = Faults(bits: 1 &<< 11)

    public var isEmpty: Bool { bits == 0 }
    public func contains(_ f: Faults) -> Bool { bits & f.bits == f.bits }
    public mutating func insert(_ f: Faults) { bits |= f.bits }
    public func subtracting(_ f: Faults) -> Faults { Faults(bits: bits & ~f.bits) }

    public static let bitCount = 12
    public func union(_ f: Faults) -> Faults { Faults(bits: bits | f.bits) }
    public func intersecting(_ f: Faults) -> Faults { Faults(bits: bits & f.bits) }

    /// The name of fault bit `bit`, for logs and JSON.
    public static func name(bit: Int) -> StaticString {
        switch bit {
        case 0: return "backgroundNotReady"
        case 1: return "backgroundHigh"
        case 2: return "backgroundLow"
        case 3: return "panelSilent"
        case 4: return "panelStatus"
        case 5: return "beamStuck"
        case 6: return "maintenance"
        case 7: return "tamper"
        case 8: return "detectorDead"
        case 9: return "outputFailed"
        case 10: return "storageFailed"
        case 11: return "detectionUnlocked"
        default: return "unknown"
        }
    }
}

/// The tests that raised an occupancy's gamma alarm, as bits (stable: written into records).
/// Several may: each window that passed its threshold is judged, and the ceiling apart.
public struct GammaTests: Sendable, Equatable {
    public var bits: UInt8
    public init(bits: UInt8 = 0) { self.bits = bits }

    /// Over the threshold with NORM discrimination off (not commissioned, or off by setting).
    public static let gross = GammaTests(bits: 1 &<< 0)
    /// The two-window rule's share test: the excess's low-window share at least `normLowShareMin`.
    public static let share = GammaTests(bits: 1 &<< 1)
    /// The two-window rule's surplus test: more low counts than the NORM hypothesis allows.
    public static let surplus = GammaTests(bits: 1 &<< 2)
    /// The spectral test (multi-window panels): no learned NORM shape explains the excess.
    public static let spectral = GammaTests(bits: 1 &<< 3)
    /// The directed test: a NORM shape plus a check source's shape explains it better.
    public static let directed = GammaTests(bits: 1 &<< 4)
    /// The ceiling: the 1 s window's significance at or above `gammaCeilingSigma`, any spectrum.
    public static let ceiling = GammaTests(bits: 1 &<< 5)
    /// The matched test: a check source's shape against the empty lane's, the level free, found
    /// a candidate (below the gross threshold too) that the spectral tests judged threat-like.
    public static let matched = GammaTests(bits: 1 &<< 6)

    public static let bitCount = 7
    public var isEmpty: Bool { bits == 0 }
    public func contains(_ t: GammaTests) -> Bool { bits & t.bits == t.bits }
    public mutating func insert(_ t: GammaTests) { bits |= t.bits }

    /// The name of bit `bit`, for logs and JSON.
    public static func name(bit: Int) -> StaticString {
        switch bit {
        case 0: return "gross"
        case 1: return "share"
        case 2: return "surplus"
        case 3: return "spectral"
        case 4: return "directed"
        case 5: return "ceiling"
        case 6: return "matched"
        default: return "unknown"
        }
    }
}

public struct Decision: Sendable, Equatable {
    public var occupancy: UInt32 = 0
    public var startUs: Int64 = 0
    public var endUs: Int64 = 0
    /// Measured speed in mm/s from the beam edges, or nil when it could not be measured.
    public var speedMmPerS: Int64? = nil
    /// True when beam 1 was interrupted before beam 0 (vehicle backing through the portal).
    public var reverse: Bool = false
    public var gammaAlarm = false
    public var neutronAlarm = false
    public var normSuspect = false
    /// Which tests raised the gamma alarm (empty when it was not raised).
    public var gammaTests = GammaTests()
    /// What the gate OCR read for this vehicle (up to two containers, the plate), as known when
    /// the decision was taken; a later read amends it (an `ocr` record).
    public var ocr = OCRAttachment()
    /// The first container number read (the contract's `container`).
    public var container: ContainerNumber? { ocr.count > 0 ? ocr[0].number : nil }
    /// Leaves `n` as the only read (its confidence unknown), or none. (A method, not a setter:
    /// a settable computed property's modify coroutine allocates its frame in Embedded Swift.)
    public mutating func setContainer(_ n: ContainerNumber?) {
        ocr = OCRAttachment()
        if let n { _ = ocr.append(ContainerRead(number: n, flags: n.hasValidCheckDigit ? 0 : ContainerRead.checkDigitFailed)) }
    }

    /// The most significant gamma window: sigma (Q8), group (0 all, 1 pillar A, 2 pillar B),
    /// its counts, its expected background (Q16) and threshold (Q16).
    public var gammaMaxSigmaQ8: Int64 = 0
    public var gammaMaxGroup: Int = 0
    public var gammaMaxCounts: Int64 = 0
    public var gammaMaxBackgroundQ16: Int64 = 0
    public var gammaMaxThresholdQ16: Int64 = 0
    /// Low-window share of that window's excess (Q16), when it had an excess.
    public var gammaMaxLowShareQ16: Int64 = 0
    /// The largest significance (Q8 sigma) of the fixed default window (1 s) against the
    /// uncorrected background, over every group: what the ceiling (`gammaCeilingSigma`) tests.
    /// Not in records; the evaluation draws the ceiling's trade-off curve from it.
    public var gammaCeilingSigmaQ8: Int64 = 0
    public var neutronMaxSigmaQ8: Int64 = 0
    public var neutronMaxCounts: Int64 = 0
    public var neutronMaxBackgroundQ16: Int64 = 0
    public var gammaWindowSamples: Int = 0
    /// Length of the most significant gamma window (the speed window or the whole occupancy).
    public var gammaMaxWindowSamples: Int = 0
    /// Estimated background suppression by the vehicle, Q16 (65536 = none).
    public var suppressionQ16: Int64 = 65_536
    /// True when the window was set from the measured speed (else the default window).
    public var gammaWindowFromSpeed = false
    public var neutronWindowSamples: Int = 0
    /// Background used, all gamma panels, Q16 counts per nominal interval.
    public var gammaBackgroundQ16: Int64 = 0
    public var samples: Int = 0
    public var faults = Faults()
    /// The trace or the run ended before the occupancy did.
    public var truncated = false
    /// The panels that screened this occupancy (bit p: panel p gave its own counts in at least
    /// half of its samples, with a ready background). The others stood in their background.
    public var panelsUsedMask: UInt32 = 0
    /// Nothing screened this vehicle: no panel gave its counts, or the background was not ready.
    /// Such an occupancy is never "clear" (see `verdict`).
    public var notScreened = false

    public init() {}
}
