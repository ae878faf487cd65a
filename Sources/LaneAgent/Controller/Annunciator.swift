// The lane's lights, siren and camera trigger: alarm holds, the operator's acknowledgements
// (first press silences the siren, second clears the lights), output tests that hold a line, and
// the fault lamp. Pure state on the controller's clock; the runner writes the levels it returns.

import LaneCore
import LaneHAL

public struct Annunciator: Sendable {
    public var sirenUs: Int64
    public var lightHoldUs: Int64
    /// How long the camera trigger stays on after an occupancy starts.
    public static let cameraUs: Int64 = 500_000

    var gammaLightUntilUs: Int64 = 0, neutronLightUntilUs: Int64 = 0
    var sirenUntilUs: Int64 = 0, cameraUntilUs: Int64 = 0
    var forcedUntilUs: InlineArray<6, Int64> = InlineArray(repeating: 0)
    var forcedLevel: InlineArray<6, Bool> = InlineArray(repeating: false)
    /// The occupancy whose alarm lights the operator cleared, and which kinds.
    var clearedOccupancy: UInt32 = 0
    var clearedKinds = (gamma: false, neutron: false)

    /// Recent alarms for the console (a ring of `LaneView.alarmsMax`).
    public internal(set) var alarms: InlineArray<16, RecentAlarm> = InlineArray(repeating: RecentAlarm())
    public internal(set) var alarmCount = 0
    public internal(set) var alarmsTotal = 0

    public init(sirenUs: Int64, lightHoldUs: Int64) {
        precondition(LaneOutput.count == 6, "the annunciator's arrays hold 6 outputs")
        self.sirenUs = sirenUs
        self.lightHoldUs = lightHoldUs
    }

    mutating func occupancyStarted(nowUs: Int64) { cameraUntilUs = nowUs + Self.cameraUs }

    /// A new alarm (one or both kinds new in this occupancy): sounds the siren if this occupancy
    /// had none yet, ends any output test, and lists it.
    mutating func alarmRaised(occupancy: UInt32, gamma: Bool, neutron: Bool, first: Bool, nowUs: Int64, wallUs: Int64) {
        precondition(gamma || neutron)
        if first { sirenUntilUs = nowUs + sirenUs }
        for i in 0..<LaneOutput.count { forcedUntilUs[i] = 0 }  // a real alarm ends any output test at once
        alarmsTotal += 1
        alarms[(alarmsTotal - 1) % LaneView.alarmsMax] = RecentAlarm(
            number: alarmsTotal, occupancy: occupancy, gamma: gamma, neutron: neutron, tUs: nowUs, wallUs: wallUs, state: .active)
        if alarmCount < LaneView.alarmsMax { alarmCount += 1 }
    }

    /// First press silences, second clears (number nil: every alarm not yet cleared).
    mutating func acknowledge(_ number: Int?, occupancy: UInt32, gamma: Bool, neutron: Bool) {
        var silenced = false, cleared = false
        for i in 0..<alarmCount {
            let j = (alarmsTotal - alarmCount + i) % LaneView.alarmsMax
            guard number == nil || alarms[j].number == number else { continue }
            switch alarms[j].state {
            case .active: alarms[j].state = .silenced; silenced = true
            case .silenced: alarms[j].state = .cleared; cleared = true
            case .cleared: break
            }
        }
        if silenced { sirenUntilUs = 0 }
        if cleared && !silenced { clearLights(occupancy: occupancy, gamma: gamma, neutron: neutron) }
    }

    mutating func reset(occupancy: UInt32, gamma: Bool, neutron: Bool) {
        for i in 0..<alarmCount { alarms[(alarmsTotal - alarmCount + i) % LaneView.alarmsMax].state = .cleared }
        sirenUntilUs = 0
        clearLights(occupancy: occupancy, gamma: gamma, neutron: neutron)
    }

    mutating func clearLights(occupancy: UInt32, gamma: Bool, neutron: Bool) {
        gammaLightUntilUs = 0
        neutronLightUntilUs = 0
        clearedOccupancy = occupancy
        clearedKinds = (gamma, neutron)
    }

    mutating func force(_ o: LaneOutput, on: Bool, untilUs: Int64) {
        forcedUntilUs[o.rawValue] = untilUs
        forcedLevel[o.rawValue] = on
    }

    mutating func release() { for i in 0..<LaneOutput.count { forcedUntilUs[i] = 0 } }

    /// The output levels for this tick: alarm lights held while the alarm lasts and `lightHoldUs`
    /// after (unless cleared for this occupancy), the siren, the camera, the fault lamp, and any
    /// output test on top.
    mutating func levels(nowUs: Int64, occupancy: UInt32, occupied: Bool, gammaAlarm: Bool, neutronAlarm: Bool,
                         faultLamp: Bool) -> InlineArray<6, Bool> {
        let clearedHere = clearedOccupancy == occupancy && occupied
        if gammaAlarm && !(clearedHere && clearedKinds.gamma) { gammaLightUntilUs = nowUs + lightHoldUs }
        if neutronAlarm && !(clearedHere && clearedKinds.neutron) { neutronLightUntilUs = nowUs + lightHoldUs }
        var levels: InlineArray<6, Bool> = InlineArray(repeating: false)
        levels[LaneOutput.gammaLight.rawValue] = nowUs < gammaLightUntilUs
        levels[LaneOutput.neutronLight.rawValue] = nowUs < neutronLightUntilUs
        levels[LaneOutput.siren.rawValue] = nowUs < sirenUntilUs
        levels[LaneOutput.camera.rawValue] = nowUs < cameraUntilUs
        levels[LaneOutput.faultLight.rawValue] = faultLamp
        for i in 0..<LaneOutput.count where nowUs < forcedUntilUs[i] { levels[i] = forcedLevel[i] }
        return levels
    }

    /// -1: not forced; 0/1: held off/on by an output test.
    func forced(_ i: Int, nowUs: Int64) -> Int8 { nowUs < forcedUntilUs[i] ? (forcedLevel[i] ? 1 : 0) : -1 }
}
