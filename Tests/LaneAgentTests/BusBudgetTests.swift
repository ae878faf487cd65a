// Proves the RS-485 bus budget: the poll time follows from the baud rate, the character format,
// the frame sizes and the reply latency, and a profile whose bus cannot keep up is refused.

import LaneAgent
import Testing

@Suite struct BusBudgetTests {
    @Test("115200 8N1 fits four panels in a 100 ms tick; 9600 8N1 does not; 19200 8E1 fits at 200 ms only")
    func budgets() {
        let fast = BusBudget(baud: 115_200, parityBit: false, dataBits: 8, stopBits: 1, panels: 4, registers: 12, replyUs: 5_000, tickUs: 100_000)
        #expect(fast.bitsPerChar == 10 && fast.requestChars + fast.replyChars == 37)
        #expect(abs(fast.pollUs - 4 * (37 * 1e7 / 115_200 + 3_500 + 5_000)) < 1)  // 46.8 ms
        #expect(fast.fits)
        let slow = BusBudget(baud: 9_600, parityBit: false, dataBits: 8, stopBits: 1, panels: 4, registers: 12, replyUs: 5_000, tickUs: 100_000)
        #expect(!slow.fits && slow.pollUs > 200_000)
        #expect(slow.explanation.contains("cannot poll 4 panels in one 100 ms tick"))
        var old = BusBudget(baud: 19_200, parityBit: true, dataBits: 8, stopBits: 1, panels: 4, registers: 12, replyUs: 5_000, tickUs: 100_000)
        #expect(old.bitsPerChar == 11 && !old.fits)
        old.tickUs = 200_000
        #expect(old.fits)
    }

    @Test("a board profile with a bus too slow for its tick is refused, naming the baud key")
    func refused() throws {
        let rtu = try String(contentsOfFile: packageRoot + "/Boards/sim-rtu.yaml", encoding: .utf8)
        #expect(profileError(rtu) == nil)
        let slow = profileError(rtu.replacingOccurrences(of: "  baud: 115200", with: "  baud: 9600"))
        #expect(slow?.contains("modbus.baud: the RS-485 bus cannot poll 4 panels") == true, "\(slow ?? "accepted")")
        let slower = rtu.replacingOccurrences(of: "  baud: 115200", with: "  baud: 9600")
            .replacingOccurrences(of: "  sampleIntervalMs: 100", with: "  sampleIntervalMs: 500")
            .replacingOccurrences(of: "  gammaWindowS: 1.0", with: "  gammaWindowS: 2.0")
        #expect(profileError(slower) == nil, "a 500 ms tick leaves room: \(profileError(slower) ?? "")")
    }
}
