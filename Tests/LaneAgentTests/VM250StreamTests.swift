// Proves the VM-250-style stream on simulated time as the field's readers take it (the rules of
// OpenSensorHub's Rapiscan driver and LLNL's ERNIE, Tests/Support/VM250Reader.swift): the five
// setup lines with the types those readers parse, GS every 200 ms and NS every second in an
// occupancy, GX with rail-car index 0, and never more than 5 s without a line, while the
// background is still being learned, while a panel is failed, and while no panel answers.

import Foundation
import LaneAgent
import LaneCore
import LaneTestSupport
import Testing

@Suite struct VM250StreamTests {
    /// Ticks the lane, feeding every stream line to the reader with its time.
    func run(_ lane: inout VirtualLane, _ reader: inout VM250Reader, ticks n: Int, truck: Bool = false) {
        func drain(_ lane: inout VirtualLane, _ reader: inout VM250Reader) {
            for e in lane.sink.vm { reader.read(String(VM250Server.format(e).dropLast(2)), atS: Double(lane.nowUs) / 1e6) }
            lane.sink.vm.removeAll()
        }
        if truck {
            // VirtualLane.truck's edges, ticked here so that each line gets its own time.
            let t0 = lane.nowUs + 10_000
            let dt1: Int64 = 681_818, dur: Int64 = 7_272_727
            lane.pendingEdges += [BeamEdge(tUs: t0, beam: 0, blocked: true), BeamEdge(tUs: t0 + dt1, beam: 1, blocked: true),
                                  BeamEdge(tUs: t0 + dur, beam: 0, blocked: false), BeamEdge(tUs: t0 + dt1 + dur, beam: 1, blocked: false)]
            while lane.nowUs < t0 + dt1 + dur + 2_600_000 {
                lane.tick()
                drain(&lane, &reader)
            }
        }
        for _ in 0..<n {
            lane.tick()
            drain(&lane, &reader)
        }
    }

    @Test("setup lines, cadence, GX and the heartbeat as OpenSensorHub and ERNIE read them, through learning, a failed panel and a lane where no panel answers")
    func readersAcceptTheStream() {
        var lane = VirtualLane()
        var reader = VM250Reader()
        for l in VM250Server.setupLines(lane.controller.engine.settings) { reader.read(l, atS: 0) }
        #expect(reader.setupGamma != nil && reader.setupNeutron != nil && reader.problems.isEmpty, "\(reader.problems)")
        // Learning the background: GB/NB every 5 s all the same.
        run(&lane, &reader, ticks: 120)
        #expect(reader.tags["GB"] ?? 0 >= 2, "GB lines while the background is learned: \(reader.tags)")
        run(&lane, &reader, ticks: 200)
        run(&lane, &reader, ticks: 0, truck: true)
        // One panel fails: a GL line, then GB lines with its rate 0; a truck still gives GS/NS.
        lane.answering[2] = false
        run(&lane, &reader, ticks: 100)
        #expect(reader.tags["GL"] ?? 0 >= 1)
        run(&lane, &reader, ticks: 0, truck: true)
        // No panel answers: the lines go on (zeros), the link is not taken for lost.
        lane.answering = [false, false, false, false]
        run(&lane, &reader, ticks: 100)
        run(&lane, &reader, ticks: 0, truck: true)
        lane.answering = [true, true, true, true]
        run(&lane, &reader, ticks: 100)
        run(&lane, &reader, ticks: 0, truck: true)
        #expect(reader.problems.isEmpty, "\(reader.problems.prefix(8))")
        #expect(reader.cadenceProblems().isEmpty, "\(reader.cadenceProblems())")
        #expect(reader.longestSilenceS <= 5.05, "a reader's heartbeat needs a line every few seconds: \(reader.longestSilenceS) s of silence before line \(reader.longestSilenceEndsAt): \(reader.tags)")
        #expect(reader.occupancies.count == 4 && reader.occupancies.allSatisfy { $0.railCar == 0 && $0.gammaLines >= 30 && $0.neutronLines >= 6 },
                "\(reader.occupancies)")
    }

    @Test("the stream as it was (SG1/SN1 only, SN1 with a decimal sigma, NS every 200 ms, sigma in GX field 3) is refused by the reader: the rules have teeth")
    func oldStreamRefused() {
        var reader = VM250Reader()
        for l in ["SG1,004000,000400,10,10,07.0,P", "SN1,000000,10,05.5,P", "GS,000100,000100,000100,000100", "NS,000001,000000,000000,000000",
                  "GS,000100,000100,000100,000100", "NS,000001,000000,000000,000000", "GX,000001,001500,002843,000000"] {
            reader.read(l)
        }
        let whys = reader.problems.map(\.why).joined(separator: "\n")
        #expect(whys.contains("ERNIE needs the five setup lines"))
        #expect(whys.contains("OpenSensorHub parses field 3 as an integer: \"05.5\""))
        #expect(whys.contains("ERNIE reads field 3 as the rail-car index"))
        #expect(!reader.cadenceProblems().isEmpty)
    }
}
