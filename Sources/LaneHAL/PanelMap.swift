// A detector panel's register map, as data (Boards/panels/*.yaml): where the counters and the
// health words sit in one block of input registers, and the word order of 32-bit values.

public struct PanelRegisterMap: Sendable, Equatable {
    public enum WordOrder: Sendable, Equatable { case highFirst, lowFirst }
    public var name: String
    /// One read of `readCount` input registers (function 0x04) from `readStart` gets everything.
    public var readStart: Int
    public var readCount: Int
    public var wordOrder: WordOrder
    /// Offsets inside the block (register units).
    public var gammaTotal: Int
    public var gammaLow: Int
    public var neutron: Int
    public var uptimeMs: Int
    public var status: Int
    public var highVoltage: Int
    public var temperature: Int
    public var firmware: Int
    /// Status bits: which must be set for a healthy panel.
    public var statusOkMask: UInt16
    /// Tamper bit (door open).
    public var tamperMask: UInt16
    /// Status bits that mean a fault when set (the reference panel's temperature fault).
    public var statusFaultMask: UInt16
    /// The command holding register and its self-test value.
    public var commandRegister: Int
    public var selfTestValue: UInt16
    /// The holding register of the boundary between the low and the high energy window, keV
    /// (nil: the panel's split cannot be set).
    public var windowSplitRegister: Int? = nil
    /// Multi-window panels (reference-panel-mw-v1): where the window block is (nil: none).
    public var windowBlock: WindowBlock? = nil
    /// How many windows the agent reads (K, 3 to 16; 0: none): the profile's `panels.windows`.
    /// `readCount` covers them (`withWindows(_:)`).
    public private(set) var windowCount = 0

    /// A multi-window panel's window block: offsets in the read block, and the holding register of
    /// the first window boundary (boundary j at `boundaryRegister + j`, j = 0 ... K).
    public struct WindowBlock: Sendable, Equatable {
        /// The register holding K, the number of windows the panel counts into.
        public var countOffset: Int
        /// Window i's u32 counter at `firstOffset + 2 i`.
        public var firstOffset: Int
        public var boundaryRegister: Int
        public init(countOffset: Int, firstOffset: Int, boundaryRegister: Int) {
            self.countOffset = countOffset; self.firstOffset = firstOffset; self.boundaryRegister = boundaryRegister
        }
    }

    /// This map reading K windows: the block read grows to cover them (14 + 2K registers on
    /// reference-panel-mw-v1).
    public func withWindows(_ k: Int) -> PanelRegisterMap {
        var m = self
        guard let b = windowBlock, k >= 3 else { m.windowCount = 0; return m }
        m.windowCount = k
        m.readCount = max(readCount, b.countOffset + 1, b.firstOffset + 2 * k)
        return m
    }

    public init(name: String, readStart: Int, readCount: Int, wordOrder: WordOrder, gammaTotal: Int, gammaLow: Int,
                neutron: Int, uptimeMs: Int, status: Int, highVoltage: Int, temperature: Int, firmware: Int,
                statusOkMask: UInt16, tamperMask: UInt16, statusFaultMask: UInt16, commandRegister: Int, selfTestValue: UInt16,
                windowSplitRegister: Int? = nil) {
        self.name = name; self.readStart = readStart; self.readCount = readCount; self.wordOrder = wordOrder
        self.gammaTotal = gammaTotal; self.gammaLow = gammaLow; self.neutron = neutron; self.uptimeMs = uptimeMs
        self.status = status; self.highVoltage = highVoltage; self.temperature = temperature; self.firmware = firmware
        self.statusOkMask = statusOkMask; self.tamperMask = tamperMask; self.statusFaultMask = statusFaultMask
        self.commandRegister = commandRegister; self.selfTestValue = selfTestValue
        self.windowSplitRegister = windowSplitRegister
    }

    /// The reference panel of shared/contracts/panel-modbus.md.
    public static let referencePanelV1 = PanelRegisterMap(
        name: "reference-panel-v1", readStart: 0, readCount: 12, wordOrder: .highFirst,
        gammaTotal: 0, gammaLow: 2, neutron: 4, uptimeMs: 6, status: 8, highVoltage: 9, temperature: 10, firmware: 11,
        statusOkMask: 0x7, tamperMask: 0x8, statusFaultMask: 0x10, commandRegister: 259, selfTestValue: 0xA5A5,
        windowSplitRegister: 257)

    /// The multi-window reference panel (reference-panel-mw-v1): v1 and the window block.
    public static let referencePanelMwV1: PanelRegisterMap = {
        var m = referencePanelV1
        m.name = "reference-panel-mw-v1"
        m.readCount = 14
        m.windowBlock = WindowBlock(countOffset: 12, firstOffset: 14, boundaryRegister: 260)
        return m
    }()

    /// Largest offset used + width, for validation against `readCount`.
    public var highestOffsetUsed: Int {
        max(gammaTotal + 1, gammaLow + 1, neutron + 1, uptimeMs + 1, status, highVoltage, temperature, firmware)
    }

    @inline(__always)
    func u32(_ r: UnsafePointer<UInt16>, _ off: Int) -> UInt32 {
        let a = UInt32(r[off]), b = UInt32(r[off + 1])
        return wordOrder == .highFirst ? (a << 16) | b : (b << 16) | a
    }

    /// Decodes one block read.
    public func decode(_ r: UnsafePointer<UInt16>) -> PanelReading {
        var reading = PanelReading(
            gammaTotal: u32(r, gammaTotal), gammaLow: u32(r, gammaLow), neutron: u32(r, neutron),
            uptimeMs: u32(r, uptimeMs), status: r[status], highVoltage: r[highVoltage],
            temperatureDeci: Int16(bitPattern: r[temperature]), firmware: r[firmware])
        if let b = windowBlock, windowCount >= 3 {
            // K as the panel says; the windows the agent reads (a panel with another K is told
            // apart by the controller: its windows are not used).
            reading.windowCount = r[b.countOffset]
            for i in 0..<windowCount { reading.windows[i] = u32(r, b.firstOffset + 2 * i) }
        }
        return reading
    }
}

/// One panel's registers at one poll: free-running counters and health words.
public struct PanelReading: Sendable, Equatable {
    /// Multi-window panels: K as the panel's register says it (0: no window block read), and
    /// the free-running window counters the agent read (as many as the profile's K).
    public var windowCount: UInt16 = 0
    public var windows = InlineArray<16, UInt32>(repeating: 0)
    public var gammaTotal: UInt32 = 0
    public var gammaLow: UInt32 = 0
    public var neutron: UInt32 = 0
    public var uptimeMs: UInt32 = 0
    public var status: UInt16 = 0
    public var highVoltage: UInt16 = 0
    public var temperatureDeci: Int16 = 0
    public var firmware: UInt16 = 0
    public init(gammaTotal: UInt32 = 0, gammaLow: UInt32 = 0, neutron: UInt32 = 0, uptimeMs: UInt32 = 0, status: UInt16 = 0,
                highVoltage: UInt16 = 0, temperatureDeci: Int16 = 0, firmware: UInt16 = 0) {
        self.gammaTotal = gammaTotal; self.gammaLow = gammaLow; self.neutron = neutron; self.uptimeMs = uptimeMs
        self.status = status; self.highVoltage = highVoltage; self.temperatureDeci = temperatureDeci; self.firmware = firmware
    }

    public static func == (a: PanelReading, b: PanelReading) -> Bool {
        guard a.gammaTotal == b.gammaTotal && a.gammaLow == b.gammaLow && a.neutron == b.neutron && a.uptimeMs == b.uptimeMs
            && a.status == b.status && a.highVoltage == b.highVoltage && a.temperatureDeci == b.temperatureDeci
            && a.firmware == b.firmware && a.windowCount == b.windowCount else { return false }
        for i in 0..<16 where a.windows[i] != b.windows[i] { return false }
        return true
    }
}

/// Counts between two readings of the same free-running counters. Counters wrap at 2^32
/// (wrapping subtraction handles that); a panel restart (uptime going backwards) restarts the
/// counters at zero, so the new values are the counts since the restart, never a huge delta.
/// Counters reset without a restart (command 0x5A5A, or a panel that does it on its own) show as
/// a wrapped difference no detector can produce (above 10^8 counts/s over the interval): those
/// too count as a restart of the counters.
public struct CounterDelta: Sendable, Equatable {
    public var gamma: UInt32
    public var gammaLow: UInt32
    public var neutron: UInt32
    public var intervalMs: UInt32
    public var restarted: Bool
    /// The windows' counts over the interval (the first `windows` of them; taken like the
    /// others: wrapping differences, or the new values after a restart).
    public var windows = InlineArray<16, UInt32>(repeating: 0)

    /// `windows`: how many window counters to take (the profile's K; 0: none).
    public init(from old: PanelReading, to new: PanelReading, windows k: Int = 0) {
        let elapsed = new.uptimeMs &- old.uptimeMs
        // Uptime going back (a restart) shows as a wrapped difference above 2^31 ms (24 days).
        if elapsed > UInt32(Int32.max) {
            gamma = new.gammaTotal; gammaLow = new.gammaLow; neutron = new.neutron
            intervalMs = new.uptimeMs; restarted = true
        } else {
            gamma = new.gammaTotal &- old.gammaTotal
            gammaLow = new.gammaLow &- old.gammaLow
            neutron = new.neutron &- old.neutron
            intervalMs = elapsed; restarted = false
            let plausible = UInt64(elapsed) * 100_000 + 1_000_000  // 10^8 counts/s, and slack for a late poll
            var wild = UInt64(gamma) > plausible || UInt64(gammaLow) > plausible || UInt64(neutron) > plausible
            for i in 0..<k where !wild {
                windows[i] = new.windows[i] &- old.windows[i]
                if UInt64(windows[i]) > plausible { wild = true }
            }
            if wild {
                gamma = new.gammaTotal; gammaLow = new.gammaLow; neutron = new.neutron
                restarted = true
            }
        }
        if restarted { for i in 0..<k { windows[i] = new.windows[i] } }
        if gammaLow > gamma { gammaLow = gamma }
    }

    public static func == (a: CounterDelta, b: CounterDelta) -> Bool {
        guard a.gamma == b.gamma && a.gammaLow == b.gammaLow && a.neutron == b.neutron && a.intervalMs == b.intervalMs
            && a.restarted == b.restarted else { return false }
        for i in 0..<16 where a.windows[i] != b.windows[i] { return false }
        return true
    }
}
