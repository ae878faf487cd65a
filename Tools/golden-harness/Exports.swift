// C entry points to the engine for the golden-vector harness (Tools/golden-harness): compiled
// together with Sources/LaneCore in Embedded Swift for each target (x86_64, aarch64), linked into
// a small C program, run natively or under qemu-user. Not part of the package build.

/// One decision as plain integers (C layout).
public struct HarnessDecision {
    public var occupancy: Int64 = 0
    public var startUs: Int64 = 0
    public var endUs: Int64 = 0
    public var speedMmPerS: Int64 = -1
    public var flags: Int64 = 0
    public var gammaMaxSigmaQ8: Int64 = 0
    public var gammaMaxCounts: Int64 = 0
    public var gammaMaxThresholdQ16: Int64 = 0
    public var gammaMaxLowShareQ16: Int64 = 0
    public var neutronMaxSigmaQ8: Int64 = 0
    public var suppressionQ16: Int64 = 0
    public var gammaWindowSamples: Int64 = 0
    public var gammaMaxWindowSamples: Int64 = 0
    public var faults: Int64 = 0
}

nonisolated(unsafe) var harnessEngine = LaneEngine(settings: EngineSettings())

func export(_ d: Decision, _ out: UnsafeMutablePointer<Int64>) {
    var h = HarnessDecision()
    h.occupancy = i64(d.occupancy)
    h.startUs = d.startUs
    h.endUs = d.endUs
    h.speedMmPerS = d.speedMmPerS ?? -1
    // Bits 0-4 the flags; from bit 8 the gamma tests that alarmed (GammaTests.bits: which rule
    // decided, so that a verdict overruled on one architecture and not on another shows).
    h.flags = (d.gammaAlarm ? 1 : 0) | (d.neutronAlarm ? 2 : 0) | (d.normSuspect ? 4 : 0) | (d.reverse ? 8 : 0) | (d.truncated ? 16 : 0)
        | i64(d.gammaTests.bits) &<< 8
    h.gammaMaxSigmaQ8 = d.gammaMaxSigmaQ8
    h.gammaMaxCounts = d.gammaMaxCounts
    h.gammaMaxThresholdQ16 = d.gammaMaxThresholdQ16
    h.gammaMaxLowShareQ16 = d.gammaMaxLowShareQ16
    h.neutronMaxSigmaQ8 = d.neutronMaxSigmaQ8
    h.suppressionQ16 = d.suppressionQ16
    h.gammaWindowSamples = i64(d.gammaWindowSamples)
    h.gammaMaxWindowSamples = i64(d.gammaMaxWindowSamples)
    h.faults = i64(d.faults.bits)
    // The C side reads 14 Int64s in this order (harness.c, Decision).
    let fields: InlineArray<14, Int64> = [h.occupancy, h.startUs, h.endUs, h.speedMmPerS, h.flags, h.gammaMaxSigmaQ8, h.gammaMaxCounts,
                                          h.gammaMaxThresholdQ16, h.gammaMaxLowShareQ16, h.neutronMaxSigmaQ8, h.suppressionQ16,
                                          h.gammaWindowSamples, h.gammaMaxWindowSamples, h.faults]
    for i in 0..<14 { out[i] = fields[i] }
}

@_cdecl("lane_reset")
public func laneReset(_ panels: Int64, _ beamSpacingMm: Int64, _ sampleIntervalUs: Int64) {
    var s = EngineSettings()
    s.panelCount = Int(truncatingIfNeeded: panels)
    s.beamSpacingMm = beamSpacingMm
    s.sampleIntervalUs = sampleIntervalUs
    harnessEngine = LaneEngine(settings: s)
}

@_cdecl("lane_edge")
public func laneEdge(_ tUs: Int64, _ beam: Int64, _ blocked: Int64, _ out: UnsafeMutablePointer<Int64>) -> Int64 {
    guard let d = harnessEngine.beamEdge(BeamEdge(tUs: tUs, beam: Int(truncatingIfNeeded: beam), blocked: blocked != 0)) else { return 0 }
    export(d, out)
    return 1
}

/// Multi-window panels: K windows per panel from now on (the spectral test on); the engine
/// starts afresh with that setting.
@_cdecl("lane_set_windows")
public func laneSetWindows(_ k: Int64) {
    var s = harnessEngine.settings
    s.spectralWindowCount = Int(truncatingIfNeeded: k)
    harnessEngine = LaneEngine(settings: s)
}

/// The directed test (multi-window panels; after `lane_set_windows`): `fields` holds the
/// omnibus test's sigma and the directed test's (Q8), the two-window rule's shares (Q16; the
/// rule on), the number of check-source shapes, then 16 shares per shape (Q16), then, when
/// present, the matched test's sigma and its verdict's (Q8), the confident NORM overrules (Q8), the
/// hard bins' divisor, the gross n and the learning significance (Q8). The engine starts afresh with those settings.
@_cdecl("lane_set_directed")
public func laneSetDirected(_ fields: UnsafePointer<Int64>, _ count: Int64) {
    var s = harnessEngine.settings
    s.spectralSigmaQ8 = fields[0]
    s.spectralDirectedSigmaQ8 = fields[1]
    s.normDiscrimination = true
    s.normLowShareMinQ16 = fields[2]
    s.normShareMaxQ16 = fields[3]
    let shapes = Int(truncatingIfNeeded: fields[4])
    s.spectralThreatShapeCount = shapes
    for i in 0..<(shapes * 16) where 5 + i < Int(truncatingIfNeeded: count) { s.spectralThreatShapesQ16[i] = fields[5 + i] }
    // Optional, after the shapes: the matched test's sigma and its verdict's (Q8).
    if 5 + shapes * 16 < Int(truncatingIfNeeded: count) { s.spectralMatchedSigmaQ8 = fields[5 + shapes * 16] }
    if 6 + shapes * 16 < Int(truncatingIfNeeded: count) { s.spectralMatchedDirectedSigmaQ8 = fields[6 + shapes * 16] }
    // Then, when present: the confident NORM verdict's overrules of the surplus and the share
    // tests (Q8) and the hard tail's bin divisor (a board profile's spectralNormSigma,
    // spectralNormShareSigma and hardBinDivisor).
    if 7 + shapes * 16 < Int(truncatingIfNeeded: count) { s.spectralNormSigmaQ8 = fields[7 + shapes * 16] }
    if 8 + shapes * 16 < Int(truncatingIfNeeded: count) { s.spectralNormShareSigmaQ8 = fields[8 + shapes * 16] }
    if 9 + shapes * 16 < Int(truncatingIfNeeded: count) { s.spectralHardBinDivisor = Int(truncatingIfNeeded: fields[9 + shapes * 16]) }
    // Then the gross n and the learning significance (Q8; a board profile's gammaSigma, learnSigma).
    if 10 + shapes * 16 < Int(truncatingIfNeeded: count) { s.gammaSigmaQ8 = fields[10 + shapes * 16] }
    if 11 + shapes * 16 < Int(truncatingIfNeeded: count) { s.learnSigmaQ8 = fields[11 + shapes * 16] }
    harnessEngine = LaneEngine(settings: s)
}

/// A sample with its windows: `windows` holds K per panel, panel after panel.
@_cdecl("lane_sample_windows")
public func laneSampleWindows(_ tUs: Int64, _ intervalUs: Int64, _ counts: UnsafePointer<UInt32>, _ k: Int64,
                              _ windows: UnsafePointer<UInt32>, _ out: UnsafeMutablePointer<Int64>) -> Int64 {
    var s = LaneSample(tUs: tUs, intervalUs: intervalUs)
    let kk = Int(truncatingIfNeeded: k)
    for p in 0..<harnessEngine.settings.panelCount {
        s.gamma[p] = counts[p]
        s.gammaLow[p] = counts[8 + p]
        s.neutron[p] = counts[16 + p]
        for w in 0..<kk { s.windows[p * windowCountMax + w] = windows[p * kk + w] }
    }
    s.windowCount = kk
    guard let d = harnessEngine.sample(s) else { return 0 }
    export(d, out)
    return 1
}

@_cdecl("lane_sample")
public func laneSample(_ tUs: Int64, _ intervalUs: Int64, _ counts: UnsafePointer<UInt32>, _ out: UnsafeMutablePointer<Int64>) -> Int64 {
    var s = LaneSample(tUs: tUs, intervalUs: intervalUs)
    for p in 0..<harnessEngine.settings.panelCount {
        s.gamma[p] = counts[p]
        s.gammaLow[p] = counts[8 + p]
        s.neutron[p] = counts[16 + p]
    }
    guard let d = harnessEngine.sample(s) else { return 0 }
    export(d, out)
    return 1
}

@_cdecl("lane_finish")
public func laneFinish(_ tUs: Int64, _ out: UnsafeMutablePointer<Int64>) -> Int64 {
    guard let d = harnessEngine.finish(atUs: tUs) else { return 0 }
    export(d, out)
    return 1
}
