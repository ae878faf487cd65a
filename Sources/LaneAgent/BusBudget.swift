// How long one tick's polls take on an RS-485 bus, from the baud rate, the frame sizes, the
// number of panels and their reply latency; a board profile whose bus cannot keep up with its
// tick is refused before anything starts.

public struct BusBudget: Sendable, Equatable {
    public var baud: Int
    public var parityBit: Bool
    public var dataBits: Int
    public var stopBits: Int
    public var panels: Int
    public var registers: Int
    public var replyUs: Int
    public var tickUs: Int
    /// The share of the tick the polls may take (the rest absorbs retries and jitter).
    public static let tickShare = 0.8

    public init(baud: Int, parityBit: Bool, dataBits: Int, stopBits: Int, panels: Int, registers: Int, replyUs: Int, tickUs: Int) {
        self.baud = baud; self.parityBit = parityBit; self.dataBits = dataBits; self.stopBits = stopBits
        self.panels = panels; self.registers = registers; self.replyUs = replyUs; self.tickUs = tickUs
    }

    /// Bits on the wire per character: start, data, parity, stop.
    public var bitsPerChar: Int { 1 + dataBits + (parityBit ? 1 : 0) + stopBits }
    public var charUs: Double { Double(bitsPerChar) * 1e6 / Double(baud) }
    /// Request: unit, function, address (2), count (2), CRC (2). Reply: unit, function, byte
    /// count, 2 bytes a register, CRC (2).
    public var requestChars: Int { 8 }
    public var replyChars: Int { 5 + 2 * registers }
    /// Modbus RTU frames are separated by 3.5 characters of silence (at least 1.75 ms above
    /// 19200 baud, per the specification).
    public var gapUs: Double { baud > 19_200 ? 1_750 : 3.5 * charUs }
    public var perPanelUs: Double { Double(requestChars + replyChars) * charUs + 2 * gapUs + Double(replyUs) }
    public var pollUs: Double { perPanelUs * Double(panels) }
    public var budgetUs: Double { Double(tickUs) * Self.tickShare }
    public var fits: Bool { pollUs <= budgetUs }

    public var explanation: String {
        let f = { (us: Double) in String(Int((us / 1000).rounded(.up))) + " ms" }
        return "the RS-485 bus cannot poll \(panels) panels in one \(tickUs / 1000) ms tick: \(panels) x (\(requestChars + replyChars) characters at "
            + "\(baud) baud + \(f(2 * gapUs)) of frame gaps + \(replyUs / 1000) ms reply) = \(f(pollUs)), more than \(f(budgetUs)) "
            + "(\(Int(Self.tickShare * 100)) % of the tick); raise the baud rate, lengthen detection.sampleIntervalMs, or poll fewer panels"
    }
}
