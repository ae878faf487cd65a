// One occupancy as ANSI N42.42-2012 XML (namespace http://physics.nist.gov/N42/2011/N42), the
// standard format for radiation instruments, in the forms the field's readers read (Sandia's
// SpecUtils, under InterSpec and Cambio; checked by the tests with its Python bindings): the lane
// as a portal monitor, one detector per panel and channel, one measurement per sample with each
// panel's gamma as a spectrum of its energy windows (an energy calibration by window
// boundaries) and its neutron as gross counts, the occupancy indicator, and each alarm both as
// a RadAlarm and as an identified "nuclide" (SpecUtils reads alarms only in that form).

import Foundation
import LaneCore
import LaneTrace

public enum N42Export {
    static func xml(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func dateTime(_ us: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(us) / 1e6))
    }

    static func duration(_ us: Int64) -> String { String(format: "PT%.3fS", Double(us) / 1e6) }

    /// One occupancy as it is shared or exported, for `document` and `dayDocument`.
    public struct Occupancy {
        public var decision: Decision
        /// The decision record's wall clock (the end of the occupancy).
        public var wallUs: Int64
        /// Its samples, on the decision's monotonic clock.
        public var samples: [LaneSample]
        /// How its containers are named: as read (nil), or as a sharing policy says (hashed, or
        /// "" for none; docs/SHARING.md).
        public var containers: String?
        /// Multi-window panels: the boundaries each panel counted with (nil: two windows).
        public var windows: WindowsRecord?
        public init(decision: Decision, wallUs: Int64, samples: [LaneSample], containers: String? = nil, windows: WindowsRecord? = nil) {
            self.decision = decision; self.wallUs = wallUs; self.samples = samples; self.containers = containers
            self.windows = windows
        }
    }

    /// One occupancy's file.
    public static func document(lane: String, decision d: Decision, wallUs: Int64, samples: [LaneSample], panels: Int,
                                softwareVersion: String = "0.1.0", containers: String? = nil, windows: WindowsRecord? = nil) -> String {
        dayDocument(lane: lane, occupancies: [Occupancy(decision: d, wallUs: wallUs, samples: samples, containers: containers, windows: windows)],
                    panels: panels, softwareVersion: softwareVersion)
    }

    /// Panel p's window boundaries in occupancy o, when it counted into K windows and they are known.
    static func boundaries(_ o: Occupancy, panel p: Int) -> [Int]? {
        guard let w = o.windows, p < w.panels, w.known(panel: p) else { return nil }
        return (0...w.windows).map { w.boundaryKev(panel: p, $0) }
    }

    /// Several occupancies (a day's) in one file: every sample of each as a measurement, and an
    /// analysis result per occupancy referring to its own measurements.
    public static func dayDocument(lane: String, occupancies: [Occupancy], panels: Int, softwareVersion: String = "0.1.0") -> String {
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<RadInstrumentData xmlns=\"http://physics.nist.gov/N42/2011/N42\" n42DocDateTime=\"\(dateTime(occupancies.last?.wallUs ?? 0))\">\n"
        x += "  <RadInstrumentDataCreatorName>lane-collector-\(softwareVersion)</RadInstrumentDataCreatorName>\n"
        x += "  <RadInstrumentInformation id=\"RadInstrument\">\n"
        x += "    <RadInstrumentManufacturerName>Lane controller project</RadInstrumentManufacturerName>\n"
        x += "    <RadInstrumentIdentifier>\(xml(lane))</RadInstrumentIdentifier>\n"
        x += "    <RadInstrumentModelName>lane-agent</RadInstrumentModelName>\n"
        x += "    <RadInstrumentClassCode>Portal Monitor</RadInstrumentClassCode>\n"
        x += "    <RadInstrumentVersion>\n      <RadInstrumentComponentName>Software</RadInstrumentComponentName>\n"
        x += "      <RadInstrumentComponentVersion>\(xml(softwareVersion))</RadInstrumentComponentVersion>\n    </RadInstrumentVersion>\n"
        x += "  </RadInstrumentInformation>\n"
        // One detector per panel and channel: (id prefix, name, category code, kind code).
        for (id, name, category, kind) in [("Gamma", "Gamma panel", "Gamma", "PVT"), ("Neutron", "Neutron channel", "Neutron", "He3")] {
            for p in 0..<panels {
                x += "  <RadDetectorInformation id=\"\(id)\(p + 1)\">\n    <RadDetectorName>\(name) \(p + 1)</RadDetectorName>\n"
                x += "    <RadDetectorCategoryCode>\(category)</RadDetectorCategoryCode>\n    <RadDetectorKindCode>\(kind)</RadDetectorKindCode>\n  </RadDetectorInformation>\n"
            }
        }
        // The reference panel's windows as channel boundaries: low from the discriminator (30 keV)
        // to the split (250 keV), high above, to 3 MeV.
        x += "  <EnergyCalibration id=\"Windows\">\n    <EnergyBoundaryValues>30 250 3000</EnergyBoundaryValues>\n  </EnergyCalibration>\n"
        // Multi-window panels: one calibration per set of boundaries the panels counted with.
        var calibrations: [[Int]: String] = [:]
        for o in occupancies {
            for p in 0..<panels {
                guard let b = boundaries(o, panel: p), calibrations[b] == nil else { continue }
                let id = "Windows\(calibrations.count + 1)"
                calibrations[b] = id
                x += "  <EnergyCalibration id=\"\(id)\">\n    <EnergyBoundaryValues>\(b.map(String.init).joined(separator: " "))</EnergyBoundaryValues>\n  </EnergyCalibration>\n"
            }
        }
        var k = 0
        var idsOf: [[String]] = []
        for o in occupancies {
            let d = o.decision
            // Monotonic to wall: the record was written at the end of the occupancy.
            func wall(_ monoUs: Int64) -> Int64 { o.wallUs == 0 ? 0 : o.wallUs - (d.endUs - monoUs) }
            var ids: [String] = []
            for s in o.samples {
                k += 1
                let id = "M\(k)"
                ids.append(id)
                x += "  <RadMeasurement id=\"\(id)\">\n    <MeasurementClassCode>Foreground</MeasurementClassCode>\n"
                x += "    <StartDateTime>\(dateTime(wall(s.tUs - s.intervalUs)))</StartDateTime>\n"
                x += "    <RealTimeDuration>\(duration(s.intervalUs))</RealTimeDuration>\n"
                // Gamma: a spectrum of the panel's windows (low, high; or its K windows with their
                // boundaries, where they add up to its gamma counts); neutron: one gross count.
                for p in 0..<panels {
                    var calibration = "Windows", channels = "\(s.gammaLow[p]) \(s.gamma[p] &- s.gammaLow[p])"
                    if let b = boundaries(o, panel: p), let c = calibrations[b] {
                        let counts = (0..<(b.count - 1)).map { s.windows[p * windowCountMax + $0] }
                        if counts.reduce(UInt64(0), { $0 + UInt64($1) }) == UInt64(s.gamma[p]) {
                            calibration = c
                            channels = counts.map(String.init).joined(separator: " ")
                        }
                    }
                    x += "    <Spectrum id=\"\(id)G\(p + 1)\" radDetectorInformationReference=\"Gamma\(p + 1)\" energyCalibrationReference=\"\(calibration)\">\n"
                    x += "      <LiveTimeDuration>\(duration(s.intervalUs))</LiveTimeDuration>\n"
                    x += "      <ChannelData>\(channels)</ChannelData>\n    </Spectrum>\n"
                }
                for p in 0..<panels {
                    x += "    <GrossCounts id=\"\(id)N\(p + 1)\" radDetectorInformationReference=\"Neutron\(p + 1)\">\n"
                    x += "      <LiveTimeDuration>\(duration(s.intervalUs))</LiveTimeDuration>\n"
                    x += "      <CountData>\(s.neutron[p])</CountData>\n    </GrossCounts>\n"
                }
                x += "    <OccupancyIndicator>true</OccupancyIndicator>\n  </RadMeasurement>\n"
            }
            idsOf.append(ids)
        }
        let gammaDetectors = (1...panels).map { "Gamma\($0)" }.joined(separator: " ")
        let neutronDetectors = (1...panels).map { "Neutron\($0)" }.joined(separator: " ")
        for (o, ids) in zip(occupancies, idsOf) {
            let d = o.decision
            x += "  <AnalysisResults\(ids.isEmpty ? "" : " radMeasurementReferences=\"\(ids.joined(separator: " "))\"")>\n"
            x += "    <AnalysisAlgorithmName>lane-agent gross count with energy windows</AnalysisAlgorithmName>\n"
            x += "    <AnalysisAlgorithmVersion>\n      <AnalysisAlgorithmComponentName>LaneCore</AnalysisAlgorithmComponentName>\n"
            x += "      <AnalysisAlgorithmComponentVersion>\(xml(softwareVersion))</AnalysisAlgorithmComponentVersion>\n    </AnalysisAlgorithmVersion>\n"
            var description = "occupancy \(d.occupancy); max gamma \(decimal2(Q8.hundredths(d.gammaMaxSigmaQ8))) sigma"
            if let v = d.speedMmPerS { description += "; speed \(decimal2((v + 5) / 10)) m/s" }
            if let shown = o.containers {
                if !shown.isEmpty { description += "; container \(shown)" }
            } else if d.ocr.count > 0 {
                description += "; container " + (0..<d.ocr.count).map { d.ocr[$0].number.text }.joined(separator: " ")
            }
            if d.normSuspect { description += "; NORM suspected" }
            if d.gammaAlarm && !d.gammaTests.isEmpty { description += "; gamma alarm by " + gammaTestNames(d.gammaTests).joined(separator: ", ") }
            x += "    <AnalysisResultDescription>\(xml(description))</AnalysisResultDescription>\n"
            if d.gammaAlarm {
                x += "    <RadAlarm radDetectorInformationReferences=\"\(gammaDetectors)\">\n      <RadAlarmCategoryCode>Gamma</RadAlarmCategoryCode>\n"
                x += "      <RadAlarmLightColor>Red</RadAlarmLightColor>\n    </RadAlarm>\n"
            }
            if d.neutronAlarm {
                x += "    <RadAlarm radDetectorInformationReferences=\"\(neutronDetectors)\">\n      <RadAlarmCategoryCode>Neutron</RadAlarmCategoryCode>\n"
                x += "      <RadAlarmLightColor>Blue</RadAlarmLightColor>\n    </RadAlarm>\n"
            }
            // The same alarms as identified "nuclides": how SpecUtils (and the tools on it) read them.
            if d.gammaAlarm || d.neutronAlarm {
                x += "    <NuclideAnalysisResults>\n"
                func nuclide(_ name: String, _ sigmaQ8: Int64, _ category: String) {
                    x += "      <Nuclide>\n        <NuclideIdentifiedIndicator>true</NuclideIdentifiedIndicator>\n"
                    x += "        <NuclideName>\(name)</NuclideName>\n"
                    x += "        <NuclideIDConfidenceDescription>\(decimal2(Q8.hundredths(sigmaQ8))) sigma above background</NuclideIDConfidenceDescription>\n"
                    x += "        <NuclideCategoryDescription>\(category)</NuclideCategoryDescription>\n      </Nuclide>\n"
                }
                if d.gammaAlarm { nuclide("Gamma alarm", d.gammaMaxSigmaQ8, "Gamma") }
                if d.neutronAlarm { nuclide("Neutron alarm", d.neutronMaxSigmaQ8, "Neutron") }
                x += "    </NuclideAnalysisResults>\n"
            }
            x += "  </AnalysisResults>\n"
        }
        x += "</RadInstrumentData>\n"
        return x
    }
}

extension Database {
    /// The occupancy with this number on `lane` (its latest record if numbers restarted), its
    /// record's wall clock, and its samples (of the same journal epoch).
    public func occupancy(lane: String, number: UInt32) throws -> (Decision, Int64, [LaneSample], Int)? {
        try occupancyWithWindows(lane: lane, number: number).map { ($0.0, $0.1, $0.2, $0.3) }
    }

    /// The same, with the panels' window boundaries on a multi-window lane.
    public func occupancyWithWindows(lane: String, number: UInt32) throws -> (Decision, Int64, [LaneSample], Int, WindowsRecord?)? {
        let s = try statement("SELECT epoch, sequence FROM occupancies WHERE lane = ? AND occupancy = ? ORDER BY wall_us DESC, sequence DESC LIMIT 1")
        s.bind([lane, Int64(number)])
        guard try s.step() else { return nil }
        return try occupancyWithWindows(lane: lane, epoch: UInt64(bitPattern: s.int(0)), sequence: UInt64(s.int(1)))
    }
}
