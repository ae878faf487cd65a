// Proves the integer square root is the exact floor of the square root, and the fixed-point
// display helpers round as documented.

import LaneCore
import Testing

@Suite struct FixedPointTests {
    @Test("integerSquareRoot is floor(sqrt(n)) for every n below 70,000, around every perfect square edge and power of two, and for 100,000 draws over every magnitude")
    func squareRootExact() {
        for n in UInt64(0)..<70_000 {
            let r = integerSquareRoot(n)
            #expect(r * r <= n && (r + 1) * (r + 1) > n, "n = \(n), r = \(r)")
        }
        for r in [UInt64(1 << 20), 123_456_789, 4_294_967_295] {
            #expect(integerSquareRoot(r * r) == r)
            #expect(integerSquareRoot(r * r - 1) == r - 1)
            #expect(integerSquareRoot(r * r + 2 * r) == r)
        }
        #expect(integerSquareRoot(UInt64.max) == 4_294_967_295)
        // Around every power of two (where the start's shift changes) and every square near one.
        for k in 1..<64 {
            let p = UInt64(1) << UInt64(k)
            for n in [p - 1, p, p + 1] {
                let r = integerSquareRoot(n)
                let (sq, over) = (r + 1).multipliedReportingOverflow(by: r + 1)
                #expect(r * r <= n && (over || sq > n), "n = \(n), r = \(r)")
            }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<100_000 {  // xorshift draws over the whole range, every magnitude
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let n = state >> (state & 63)
            let r = integerSquareRoot(n)
            let (sq, over) = (r + 1).multipliedReportingOverflow(by: r + 1)
            #expect(r * r <= n && (over || sq > n), "n = \(n), r = \(r)")
        }
    }

    @Test("Q8 and Q16 hundredths saturate at the ends of Int64 instead of trapping (a fuzzed replay crashed the decision writer)")
    func hundredthsSaturate() {
        #expect(Q8.hundredths(Int64.max) > 0)
        #expect(Q8.hundredths(Int64.min) < 0)
        #expect(Q16.hundredths(Int64.max) > 0)
        #expect(Q16.hundredths(Int64.min + 1) < 0)
    }

    @Test("Q8 and Q16 hundredths round half away from zero")
    func rounding() {
        #expect(Q8.hundredths(7 * 256) == 700)
        #expect(Q8.hundredths(-256) == -100)
        #expect(Q8.hundredths(1) == 0)   // 0.0039 -> 0.00
        #expect(Q8.hundredths(2) == 1)   // 0.0078 -> 0.01
        #expect(Q16.hundredths(65_536 * 3 / 2) == 150)
        #expect(Q8.fromTenths(70) == 1792)
    }
}

@Suite struct ContainerNumberTests {
    @Test("ISO 6346 check digits: known good numbers pass, a changed digit or letter fails")
    func checkDigit() {
        for good in ["CSQU3054383", "MSCU1234566", "TGHU4581235"] {
            #expect(ContainerNumber(ascii: Array(good.utf8))!.hasValidCheckDigit, "\(good)")
        }
        for bad in ["CSQU3054384", "CSQV3054383", "CSQU305438", "1SQU3054383"] {
            #expect(!(ContainerNumber(ascii: Array(bad.utf8))?.hasValidCheckDigit ?? false), "\(bad)")
        }
    }

    @Test("container numbers are 1 to 16 printable ASCII bytes")
    func storage() {
        #expect(ContainerNumber(ascii: Array("".utf8)) == nil)
        #expect(ContainerNumber(ascii: Array("A B".utf8)) == nil)
        #expect(ContainerNumber(ascii: Array("ABCDEFGHIJKLMNOPQ".utf8)) == nil)
        #expect(ContainerNumber(ascii: Array("ABCDEFGHIJKLMNOP".utf8))?.count == 16)
    }
}

@Suite struct SampleRingTests {
    @Test("the ring sums exactly the newest samples, across wrap-around")
    func sums() {
        var ring = SampleRing()
        for i in 1...100 {
            var e = WindowEntry()
            e.gamma[0] = Int64(i)
            e.neutron = 1
            e.intervalUs = 100_000
            ring.push(e)
            let w = min(10, i)
            let s = ring.sum(window: 10)
            #expect(s.samples == w)
            #expect(s.gamma[0] == Int64((i - w + 1...i).reduce(0, +)))
            #expect(s.intervalUs == Int64(w) * 100_000)
        }
        #expect(ring.sum(window: 64).samples == 64)
        #expect(ring.sum(window: 64).gamma[0] == Int64((37...100).reduce(0, +)))
    }

    @Test("running totals stay exact after the ring has wrapped many times, for every window length")
    func wrapped() {
        var ring = SampleRing()
        for i in 1...1_000 {
            var e = WindowEntry()
            e.gamma[2] = Int64(i * 3)
            e.gammaLow[1] = Int64(i % 7)
            e.intervalUs = 100_000 + Int64(i % 3)
            ring.push(e)
        }
        for w in [1, 2, 10, 64, 127, 128, 500] {
            let n = min(w, 128)
            let s = ring.sum(window: w)
            #expect(s.samples == n)
            #expect(s.gamma[2] == Int64((1_001 - n...1_000).reduce(0) { $0 + $1 * 3 }), "window \(w)")
            #expect(s.gammaLow[1] == Int64((1_001 - n...1_000).reduce(0) { $0 + $1 % 7 }))
            #expect(s.intervalUs == Int64((1_001 - n...1_000).reduce(0) { $0 + 100_000 + $1 % 3 }))
        }
        ring.removeAll()
        #expect(ring.sum(window: 10).samples == 0)
    }
}
