// Scenario files (HardwareSim/scenarios/*.yaml): the lane, its traffic and what the trucks carry.
// docs/SIMULATOR.md describes every key; defaults are the DOMAIN.md figures.

import Foundation
import Yams

public struct Scenario: Codable, Sendable {
    public var name: String?
    public var seed: UInt64
    /// Seconds of simulated time; default: 10 s after the last vehicle has left.
    public var durationS: Double?
    public var lane: LaneSpec
    public var vehicles: [VehicleSpec]
    /// Field faults the simulator plays at set times (the control socket's `fault` grammar;
    /// checked by `lane-sim` when it loads the scenario). Traces do not show them.
    public var faults: [FaultSpec] = []

    public init(name: String? = nil, seed: UInt64, durationS: Double? = nil, lane: LaneSpec = LaneSpec(), vehicles: [VehicleSpec]) {
        self.name = name; self.seed = seed; self.durationS = durationS; self.lane = lane; self.vehicles = vehicles
    }

    enum CodingKeys: String, CodingKey { case name, seed, durationS, lane, vehicles, faults }

    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        seed = try c.decode(UInt64.self, forKey: .seed)
        durationS = try c.decodeIfPresent(Double.self, forKey: .durationS)
        lane = try c.decodeIfPresent(LaneSpec.self, forKey: .lane) ?? LaneSpec()
        vehicles = try c.decodeIfPresent([VehicleSpec].self, forKey: .vehicles) ?? []
        faults = try c.decodeIfPresent([FaultSpec].self, forKey: .faults) ?? []
    }

    /// Loads and checks a scenario file; errors name the file and the key.
    public static func load(path: String) throws -> Scenario {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ScenarioError(message: "\(path): cannot read the scenario file")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws -> Scenario {
        let s: Scenario
        do {
            s = try YAMLDecoder().decode(Scenario.self, from: text)
        } catch let e as DecodingError {
            throw ScenarioError(message: "\(source): \(describe(e))")
        } catch {
            throw ScenarioError(message: "\(source): \(error)")
        }
        if let problem = s.firstProblem() { throw ScenarioError(message: "\(source): \(problem)") }
        return s
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ p: [CodingKey]) -> String {
            p.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch e {
        case let .keyNotFound(k, ctx): return "\(path(ctx.codingPath + [k])): required key is missing"
        case let .typeMismatch(t, ctx): return "\(path(ctx.codingPath)): expected \(t)"
        case let .valueNotFound(t, ctx): return "\(path(ctx.codingPath)): expected \(t), found nothing"
        case let .dataCorrupted(ctx): return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    public func firstProblem() -> String? {
        if let p = lane.firstProblem() { return "lane.\(p)" }
        for (i, v) in vehicles.enumerated() {
            if let p = v.firstProblem() { return "vehicles[\(i)].\(p)" }
        }
        for (i, f) in faults.enumerated() {
            if !(f.at >= 0) { return "faults[\(i)].at: must be 0 or more seconds" }
            if let d = f.durationS, !(d > 0) { return "faults[\(i)].durationS: must be positive" }
            if f.fault.split(separator: " ").count < 2 { return "faults[\(i)].fault: expected '<target> <kind> ...' as on the control socket" }
        }
        return nil
    }
}

public struct ScenarioError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

public struct LaneSpec: Codable, Sendable {
    public var backgroundCps: [Double] = [420, 390, 450, 410]
    /// Share of background counts in the low energy window.
    public var backgroundLowFraction: Double = 0.55
    public var neutronBackgroundCps: [Double] = [1.5, 1.5, 1.5, 1.5]
    /// Slow background drift: amplitude (fraction) and period.
    public var driftFraction: Double = 0.03
    public var driftPeriodS: Double = 600
    public var beamSpacingM: Double = 1.5
    /// Distance between the pillars' panel faces.
    public var portalWidthM: Double = 4.8
    /// Background suppression by a vehicle in or near the portal (DOMAIN.md: about 15 %).
    public var shielding: Double = 0.15
    /// How unevenly a vehicle's shielding falls on the spectrum: the windows below the panel's
    /// split lose `shielding x (1 + tilt)` of the background, those above `shielding x (1 - tilt)`
    /// (0: the shape is kept, the engine's assumption; negative: the high windows shielded more).
    public var shieldingTilt: Double = 0
    /// `step` (the default): as above; `smooth`: on multi-window panels the tilt runs through the
    /// windows, x_j from +1 (the lowest) to -1 (the highest) linear in the log of each window's
    /// centre energy, window j losing `shielding x (1 + tilt x_j)` (a real shadow's tilt follows
    /// the energy; two-window panels keep the step).
    public var shieldingTiltShape: TiltShape = .step
    public enum TiltShape: String, Codable, Sendable { case step, smooth }
    public var panelLabels: [String] = ["MU", "ML", "SU", "SL"]
    /// The spectral physics (docs/SIMULATOR.md, "The physics family"); nil: lane-sim's fixed
    /// shares, with `backgroundLowFraction`.
    public var physics: Physics? = nil

    public init() {}

    public var panels: Int { backgroundCps.count }

    enum CodingKeys: String, CodingKey {
        case backgroundCps, backgroundLowFraction, neutronBackgroundCps, driftFraction, driftPeriodS, beamSpacingM,
            portalWidthM, shielding, shieldingTilt, shieldingTiltShape, panelLabels
    }

    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        let z = LaneSpec()
        backgroundCps = try c.decodeIfPresent([Double].self, forKey: .backgroundCps) ?? z.backgroundCps
        backgroundLowFraction = try c.decodeIfPresent(Double.self, forKey: .backgroundLowFraction) ?? z.backgroundLowFraction
        neutronBackgroundCps = try c.decodeIfPresent([Double].self, forKey: .neutronBackgroundCps) ?? z.neutronBackgroundCps
        driftFraction = try c.decodeIfPresent(Double.self, forKey: .driftFraction) ?? z.driftFraction
        driftPeriodS = try c.decodeIfPresent(Double.self, forKey: .driftPeriodS) ?? z.driftPeriodS
        beamSpacingM = try c.decodeIfPresent(Double.self, forKey: .beamSpacingM) ?? z.beamSpacingM
        portalWidthM = try c.decodeIfPresent(Double.self, forKey: .portalWidthM) ?? z.portalWidthM
        shielding = try c.decodeIfPresent(Double.self, forKey: .shielding) ?? z.shielding
        shieldingTilt = try c.decodeIfPresent(Double.self, forKey: .shieldingTilt) ?? z.shieldingTilt
        shieldingTiltShape = try c.decodeIfPresent(TiltShape.self, forKey: .shieldingTiltShape) ?? z.shieldingTiltShape
        panelLabels = try c.decodeIfPresent([String].self, forKey: .panelLabels) ?? z.panelLabels
    }

    func firstProblem() -> String? {
        if backgroundCps.count != 4 { return "backgroundCps: the simulated lane has 4 gamma panels (2 per pillar); give 4 rates" }
        if backgroundCps.contains(where: { !($0 >= 0 && $0 < 1e6) }) { return "backgroundCps: rates must be 0...1e6 counts/s" }
        if neutronBackgroundCps.count != backgroundCps.count { return "neutronBackgroundCps: give one rate per panel (\(backgroundCps.count))" }
        if neutronBackgroundCps.contains(where: { !($0 >= 0 && $0 < 1e5) }) { return "neutronBackgroundCps: rates must be 0...1e5 counts/s" }
        if !(backgroundLowFraction >= 0 && backgroundLowFraction <= 1) { return "backgroundLowFraction: must be 0...1" }
        if !(driftFraction >= 0 && driftFraction < 1) { return "driftFraction: must be 0...1" }
        if !(driftPeriodS > 0) { return "driftPeriodS: must be positive" }
        if !(beamSpacingM >= 0.1 && beamSpacingM <= 20) { return "beamSpacingM: must be 0.1...20 m" }
        if !(portalWidthM >= 1 && portalWidthM <= 20) { return "portalWidthM: must be 1...20 m" }
        if !(shielding >= 0 && shielding < 1) { return "shielding: must be 0...1" }
        if !(shieldingTilt >= -1 && shieldingTilt <= 1) { return "shieldingTilt: must be -1...1" }
        if panelLabels.count != backgroundCps.count { return "panelLabels: give one label per panel" }
        return nil
    }
}

public enum SourceType: String, Codable, Sendable, CaseIterable {
    case cs137, heu, ba133, co60, cf252, norm

    /// Share of the source's gamma counts in the low energy window (assumed, see docs/SIMULATOR.md).
    public var lowFraction: Double {
        switch self {
        case .cs137: return 0.80
        case .heu: return 0.92
        case .ba133: return 0.88
        case .co60: return 0.45
        case .cf252: return 0.50
        case .norm: return 0.35
        }
    }
    public var gamma: Bool { self != .cf252 }
    public var neutron: Bool { self == .cf252 }
    public var isThreat: Bool { self != .norm }
}

public struct SourceSpec: Codable, Sendable {
    public var type: SourceType
    /// Net counts per second at 1 m from a panel face (gamma or neutron), before cargo attenuation.
    public var strength: Double
    /// Distance from the vehicle's front, metres (for NORM: the middle of the load).
    public var positionM: Double
    /// Lateral offset from the lane's centre line, metres (positive towards pillar B).
    public var offsetM: Double
    public var heightM: Double
    /// NORM only: length of the distributed load, metres.
    public var lengthM: Double
    /// NORM only, with a physics member: the load's K-40 / uranium / thorium shares and the share
    /// of its photons scattered in the load itself (nil: the site's mix).
    public var normMix: [Double]? = nil
    public var selfScatter: Double = 0

    public init(type: SourceType, strength: Double, positionM: Double, offsetM: Double = 0, heightM: Double = 1.5, lengthM: Double = 10) {
        self.type = type; self.strength = strength; self.positionM = positionM; self.offsetM = offsetM
        self.heightM = heightM; self.lengthM = lengthM
    }

    enum CodingKeys: String, CodingKey { case type, strength, positionM, offsetM, heightM, lengthM }

    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        type = try c.decode(SourceType.self, forKey: .type)
        strength = try c.decode(Double.self, forKey: .strength)
        positionM = try c.decodeIfPresent(Double.self, forKey: .positionM) ?? 12
        offsetM = try c.decodeIfPresent(Double.self, forKey: .offsetM) ?? 0
        heightM = try c.decodeIfPresent(Double.self, forKey: .heightM) ?? 1.5
        lengthM = try c.decodeIfPresent(Double.self, forKey: .lengthM) ?? 10
    }
}

public enum Motion: String, Codable, Sendable {
    /// Constant speed through the portal.
    case steady
    /// Stops once in the portal for `stopS`, then drives on.
    case stopAndGo
    /// Stops with its load centred in the portal for `stopS` (straddle carriers, inspections).
    case parked
}

public struct VehicleSpec: Codable, Sendable {
    /// Seconds after the start when the front reaches beam 0 (for a queued vehicle: when it
    /// arrives at its waiting place just short of the beam).
    public var at: Double
    public var speed: Double
    public var motion: Motion
    public var stopS: Double
    /// Seconds waiting just short of beam 0 before entering (a queued vehicle).
    public var queueS: Double
    public var cabLengthM: Double
    public var gapM: Double
    public var trailerLengthM: Double
    public var container: String?
    /// Two containers on one chassis (two 20-ft boxes); `container` is the first when given alone.
    public var containers: [String]?
    /// The tractor's licence plate, for the OCR camera.
    public var plate: String?
    /// How the simulated gate OCR reads this vehicle (docs/SIMULATOR.md, "The OCR camera").
    public var ocr: OCRSpec?
    public var sources: [SourceSpec]
    /// Cargo attenuation of gamma sources (1 = none).
    public var attenuation: Double
    /// This vehicle's background suppression (default: the lane's).
    public var shielding: Double?
    /// Neutron "ship effect": cosmic-ray spallation in a heavy steel load, bursts per second
    /// while the vehicle fills the portal; each burst is a geometric number of counts (mean 3)
    /// landing in one panel within one sample. 0 = none.
    public var neutronBurstsPerS: Double = 0

    public init(at: Double, speed: Double, motion: Motion = .steady, stopS: Double = 0, queueS: Double = 0,
                cabLengthM: Double = 6, gapM: Double = 1, trailerLengthM: Double = 12.2, container: String? = nil,
                sources: [SourceSpec] = [], attenuation: Double = 0.7, shielding: Double? = nil) {
        self.at = at; self.speed = speed; self.motion = motion; self.stopS = stopS; self.queueS = queueS
        self.cabLengthM = cabLengthM; self.gapM = gapM; self.trailerLengthM = trailerLengthM; self.container = container
        self.sources = sources; self.attenuation = attenuation; self.shielding = shielding
    }

    enum CodingKeys: String, CodingKey {
        case at, speed, motion, stopS, queueS, cabLengthM, gapM, trailerLengthM, container, sources, attenuation, shielding
        case neutronBurstsPerS, containers, plate, ocr
    }

    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        at = try c.decode(Double.self, forKey: .at)
        speed = try c.decode(Double.self, forKey: .speed)
        motion = try c.decodeIfPresent(Motion.self, forKey: .motion) ?? .steady
        stopS = try c.decodeIfPresent(Double.self, forKey: .stopS) ?? 0
        queueS = try c.decodeIfPresent(Double.self, forKey: .queueS) ?? 0
        cabLengthM = try c.decodeIfPresent(Double.self, forKey: .cabLengthM) ?? 6
        gapM = try c.decodeIfPresent(Double.self, forKey: .gapM) ?? 1
        trailerLengthM = try c.decodeIfPresent(Double.self, forKey: .trailerLengthM) ?? 12.2
        container = try c.decodeIfPresent(String.self, forKey: .container)
        containers = try c.decodeIfPresent([String].self, forKey: .containers)
        plate = try c.decodeIfPresent(String.self, forKey: .plate)
        ocr = try c.decodeIfPresent(OCRSpec.self, forKey: .ocr)
        sources = try c.decodeIfPresent([SourceSpec].self, forKey: .sources) ?? []
        attenuation = try c.decodeIfPresent(Double.self, forKey: .attenuation) ?? 0.7
        shielding = try c.decodeIfPresent(Double.self, forKey: .shielding)
        neutronBurstsPerS = try c.decodeIfPresent(Double.self, forKey: .neutronBurstsPerS) ?? 0
    }

    public var lengthM: Double { cabLengthM + gapM + trailerLengthM }

    /// Every container number the vehicle carries (none for a bobtail).
    public var containerNumbers: [String] { containers ?? (container.map { [$0] } ?? []) }

    func firstProblem() -> String? {
        if !(at >= 0) { return "at: must be a time in seconds >= 0" }
        if !(speed >= 0.1 && speed <= 30) { return "speed: must be 0.1...30 m/s" }
        if !(stopS >= 0 && stopS <= 3600) { return "stopS: must be 0...3600 s" }
        if motion != .steady && stopS <= 0 { return "stopS: \(motion.rawValue) needs a stop time > 0" }
        if !(queueS >= 0 && queueS <= 3600) { return "queueS: must be 0...3600 s" }
        if !(cabLengthM > 0 && cabLengthM <= 30) { return "cabLengthM: must be 0...30 m" }
        if !(gapM >= 0 && gapM <= 10) { return "gapM: must be 0...10 m" }
        if !(trailerLengthM >= 0 && trailerLengthM <= 30) { return "trailerLengthM: must be 0...30 m" }
        if !(attenuation > 0 && attenuation <= 1) { return "attenuation: must be 0...1" }
        if let s = shielding, !(s >= 0 && s < 1) { return "shielding: must be 0...1" }
        if !(neutronBurstsPerS >= 0 && neutronBurstsPerS <= 100) { return "neutronBurstsPerS: must be 0...100 bursts/s" }
        func badText(_ c: String) -> Bool { c.isEmpty || c.utf8.count > 16 || c.utf8.contains(where: { $0 < 0x21 || $0 > 0x7E }) }
        if let c = container, badText(c) { return "container: must be 1 to 16 printable ASCII characters" }
        if container != nil && containers != nil { return "containers: give container (one) or containers (a list), not both" }
        if let l = containers {
            if l.count > 2 { return "containers: at most two per vehicle" }
            for (i, c) in l.enumerated() where badText(c) { return "containers[\(i)]: must be 1 to 16 printable ASCII characters" }
        }
        if let p = plate, badText(p) { return "plate: must be 1 to 16 printable ASCII characters" }
        if let o = ocr, let problem = o.firstProblem() { return "ocr.\(problem)" }
        for (k, s) in sources.enumerated() {
            if !(s.strength >= 0 && s.strength < 1e8) { return "sources[\(k)].strength: must be 0...1e8 counts/s at 1 m" }
            if !(s.positionM >= 0 && s.positionM <= lengthM) { return "sources[\(k)].positionM: must lie on the vehicle (0...\(lengthM) m)" }
            if !(abs(s.offsetM) < 2.3) { return "sources[\(k)].offsetM: must lie between the pillars (|offset| < 2.3 m)" }
            if !(s.heightM >= 0 && s.heightM <= 4.5) { return "sources[\(k)].heightM: must be 0...4.5 m" }
            if !(s.lengthM > 0 && s.lengthM <= 30) { return "sources[\(k)].lengthM: must be 0...30 m" }
        }
        return nil
    }
}

/// How the simulated gate OCR reads one vehicle: its delay after the camera trigger, its
/// confidence, and a fault the field shows.
public struct OCRSpec: Codable, Sendable {
    public enum Fault: String, Codable, Sendable, CaseIterable {
        /// One character read wrong (the check digit then fails).
        case misread
        /// Nothing sent for this vehicle.
        case missing
        /// The read of the vehicle before it in the queue is sent instead.
        case wrongTruck
        /// The read is sent twice.
        case duplicate
        /// The OCR drops its connection just before sending (the read follows once reconnected).
        case drop
        /// A malformed message is sent before the read.
        case garbage
        /// The read is stamped with the time it is sent, not the time the camera took it (an OCR
        /// that stamps on sending, or reads a truck on its own trigger): with a long delay it
        /// fits no occupancy.
        case phantom
    }
    /// Seconds from the camera trigger to the message (default: 0.5 to 3 s, seeded).
    public var delayS: Double?
    /// The confidence sent, percent (default 90 to 99, seeded).
    public var confidence: Int?
    public var fault: Fault?

    public init(delayS: Double? = nil, confidence: Int? = nil, fault: Fault? = nil) { self.delayS = delayS; self.confidence = confidence; self.fault = fault }

    func firstProblem() -> String? {
        if let d = delayS, !(d >= 0 && d <= 60) { return "delayS: must be 0...60 s" }
        if let c = confidence, !(0...100).contains(c) { return "confidence: must be 0...100" }
        return nil
    }
}

/// A fault in a scenario: `fault` (the control socket's grammar, without the word `fault`) from
/// `at` seconds, cleared after `durationS` (default: never).
public struct FaultSpec: Codable, Sendable {
    public var at: Double
    public var durationS: Double?
    public var fault: String
    public init(at: Double, durationS: Double? = nil, fault: String) { self.at = at; self.durationS = durationS; self.fault = fault }
}
