#!/usr/bin/env python3
# What Sandia's SpecUtils (PyPI: sandiaspecutils; the reader under InterSpec and Cambio) reads
# from an N42 file, as one JSON object on standard output: the instrument, every measurement
# (detector, sample, start time, live and real time, gamma channels and their energies, neutron
# counts, occupancy)
# and the analysis results. The tests compare it with the collector's own values.
import json
import sys

import SpecUtils

f = SpecUtils.SpecFile()
f.loadFile(sys.argv[1], SpecUtils.ParserType.N42_2012)
out = {
    "instrumentType": f.instrumentType(),
    "instrumentId": f.instrumentId(),
    "gammaDetectors": list(f.gammaDetectorNames()),
    "neutronDetectors": list(f.neutronDetectorNames()),
    "gammaCountSum": f.gammaCountSum(),
    "neutronCountsSum": f.neutronCountsSum(),
    "warnings": list(f.parseWarnings()),
    "measurements": [],
    "results": [],
}
for m in f.measurements():
    t = m.startTime()
    out["measurements"].append({
        "sample": m.sampleNumber(),
        "detector": m.detectorName(),
        "start": t.isoformat() if t is not None else None,
        "liveTime": m.liveTime(),
        "realTime": m.realTime(),
        "gamma": list(m.gammaCounts()) if m.numGammaChannels() else [],
        "energies": list(m.channelEnergies()) if m.numGammaChannels() and m.channelEnergies() is not None else [],
        "containedNeutron": m.containedNeutron(),
        "neutron": m.neutronCountsSum(),
        "occupied": str(m.occupied()),
        "source": str(m.sourceType()),
    })
for r in f.detectorAnalysisResults():
    out["results"].append({"nuclide": r.nuclide(), "type": r.nuclideType(), "confidence": r.idConfidence()})
print(json.dumps(out))
