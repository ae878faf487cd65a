// The physics family (issue "Detection that holds on physics it was not tuned to"): how a PVT
// panel splits the counts of a source, of a NORM load and of the site's background between its
// low and high energy windows, derived from the gamma lines instead of fixed shares.
//
// For one gamma line of energy E reaching a panel: it interacts with the probability of a 5 cm
// PVT slab (Klein-Nishina total cross-section, a photoelectric term at low energy); an
// interaction deposits a single Compton scatter's recoil energy (Klein-Nishina dσ/dT, up to the
// Compton edge), or, with the member's multiple-scatter fraction, anything between the edge and
// E, or E itself (photoelectric, only at low energy); the deposit is measured with the panel's
// Gaussian resolution (FWHM scaling as sqrt(E)) and gain, and counted in the low window
// [lld, split) or the high one [split, 3 MeV). Cargo between a source and the panel transmits
// each line by exp(-τ σ(E)/σ(662)) (τ from the pass's count attenuation) and scatters part of
// what it removes down to lower energies; the site's background is its K/U/Th mix, mostly
// down-scattered in the ground (single scatters at a spread of angles, and a multiply scattered
// lump at 50-250 keV). `lane-sim`'s own assumptions (fixed shares: background 0.55, Cs-137 0.80,
// HEU 0.92, Ba-133 0.88, Co-60 0.45, NORM 0.35) stay as the member named "lane-sim".

import Foundation

/// One member of the family: a plausible PVT lane, its panels and its site.
public struct Physics: Sendable, Codable, Equatable {
    public var name: String
    /// `lane-sim`'s fixed shares instead of the derivation.
    public var legacy: Bool
    /// The boundary between the windows (the panel's register 257), the low-level discriminator,
    /// the resolution (FWHM at 662 keV, relative), the share of interactions depositing more than
    /// one Compton scatter does.
    public var windowSplitKev: Double
    public var lldKev: Double
    public var fwhm662: Double
    public var multipleScatter: Double
    /// Per panel gain (the panel reads E x gain).
    public var gains: [Double]
    /// The site: K-40 / uranium chain / thorium chain shares of the primary photons, and the
    /// share of the background that reaches the panels scattered.
    public var siteMix: [Double]
    public var groundScatter: Double
    /// Of the photons cargo removes, the share that still reaches the panel, scattered down.
    public var cargoScatter: Double
    /// Ranges the suite draws per pass: background level, vehicle shielding, NORM loads' K/U/Th
    /// shares (each drawn in [0, max] then normalised) and self-scatter.
    public var backgroundLevel: ClosedRange<Double>
    public var shielding: ClosedRange<Double>
    public var normMixMax: [Double]
    public var normSelfScatter: ClosedRange<Double>

    /// `lane-sim`'s physics, kept so that old reports stay comparable.
    public static let laneSim = Physics(
        name: "lane-sim", legacy: true, windowSplitKev: 250, lldKev: 50, fwhm662: 0.25, multipleScatter: 0.15,
        gains: [1, 1, 1, 1], siteMix: [0.5, 0.25, 0.25], groundScatter: 0.7, cargoScatter: 0.35,
        backgroundLevel: 0.7...1.3, shielding: 0.08...0.22, normMixMax: [1, 1, 1], normSelfScatter: 0.2...0.4)

    /// The family for `seed`: lane-sim's member first, then `count` members drawn across the
    /// plausible ranges (issue 12: split 150-450 keV, gain spread up to 10 %, background x0.5 to
    /// x2, shielding 5-35 %, K/U/Th mixtures).
    public static func family(seed: UInt64, count: Int) -> [Physics] {
        var out = [laneSim]
        var rng = SeededRandom(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 17)
        func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.unit() }
        for i in 0..<count {
            let spread = u(0, 0.10)
            var k = u(0.3, 0.7), uc = u(0.1, 0.4), th = u(0.15, 0.45)
            let sum = k + uc + th
            k /= sum; uc /= sum; th /= sum
            out.append(Physics(
                name: "m\(i + 1)", legacy: false, windowSplitKev: u(150, 450).rounded(), lldKev: u(30, 80).rounded(),
                fwhm662: u(0.15, 0.35), multipleScatter: u(0.05, 0.25),
                gains: (0..<4).map { _ in 1 + u(-spread, spread) }, siteMix: [k, uc, th], groundScatter: u(0.55, 0.85),
                cargoScatter: u(0.2, 0.6), backgroundLevel: 0.5...2.0, shielding: 0.05...0.35,
                normMixMax: [u(0.5, 1), u(0.3, 1), u(0.3, 1)], normSelfScatter: 0.1...0.5))
        }
        return out
    }

    // MARK: gamma lines (energy keV, photons per decay)

    static let lines: [SourceType: [(Double, Double)]] = [
        .cs137: [(662, 0.851), (32, 0.07)],
        .heu: [(186, 0.57), (144, 0.11), (163, 0.05), (205, 0.05), (95, 0.08), (1001, 0.005)],
        .ba133: [(356, 0.62), (81, 0.34), (303, 0.18), (384, 0.089), (276, 0.072), (31, 0.6)],
        .co60: [(1173, 1.0), (1332, 1.0)],
        .cf252: [(300, 0.3), (600, 0.3), (1000, 0.25), (2000, 0.15)],
    ]
    static let potassium: [(Double, Double)] = [(1461, 1.0)]
    static let uranium: [(Double, Double)] = [
        (186, 0.036), (242, 0.073), (295, 0.184), (352, 0.356), (609, 0.455), (768, 0.049), (934, 0.031),
        (1120, 0.149), (1238, 0.058), (1378, 0.04), (1764, 0.153), (2204, 0.049),
    ]
    static let thorium: [(Double, Double)] = [
        (239, 0.436), (338, 0.113), (583, 0.30), (727, 0.066), (911, 0.258), (969, 0.158), (1588, 0.032), (2614, 0.359),
    ]

    /// The primary photons of a K/U/Th mixture (shares of photons), each chain normalised.
    static func mixture(_ mix: [Double]) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        for (share, chain) in zip(mix, [potassium, uranium, thorium]) {
            let total = chain.reduce(0) { $0 + $1.1 }
            for (e, w) in chain { out.append((e, share * w / total)) }
        }
        return out
    }

    // MARK: interactions

    /// Klein-Nishina total cross-section, in units of the Thomson one's 3/8 (shape only).
    static func kleinNishina(_ e: Double) -> Double {
        let a = e / 511
        let l = log(1 + 2 * a)
        return (1 + a) / (a * a) * (2 * (1 + a) / (1 + 2 * a) - l / a) + l / (2 * a) - (1 + 3 * a) / ((1 + 2 * a) * (1 + 2 * a))
    }

    /// Probability that a photon of energy e interacts in the panel (5 cm of PVT, 1.03 g/cm3;
    /// Compton 0.0862 cm2/g at 662 keV, and photoabsorption at low energy).
    static func interaction(_ e: Double) -> Double {
        let mu = 0.0862 * kleinNishina(e) / kleinNishina(662) + 0.6 * pow(30 / max(e, 10), 3)
        return 1 - exp(-mu * 1.03 * 5)
    }

    /// Share of interactions that are photoabsorption (the full energy deposited).
    static func photoShare(_ e: Double) -> Double { 1 / (1 + pow(e / 45, 3)) }

    /// The energy after a Compton scatter through an angle with this cosine.
    static func scattered(_ e: Double, cos c: Double) -> Double { e / (1 + e / 511 * (1 - c)) }

    static func phi(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// The two windows' boundaries: [lld, split, 3 MeV).
    var twoWindows: [Double] { [lldKev, windowSplitKev, 3000] }

    /// Counts in the low and the high window per photon of energy e reaching a panel of gain g.
    func windows(_ e: Double, gain g: Double) -> (low: Double, high: Double) {
        let r = windowResponse(e, gain: g, boundaries: twoWindows)
        return (r[0], r[1])
    }

    /// Counts in each window [b0, b1), [b1, b2) ... per photon of energy e reaching a panel of
    /// gain g, from a table on a 2 keV grid (interpolated; the derivation below is slow to run
    /// per pass).
    func windowResponse(_ e: Double, gain g: Double, boundaries b: [Double]) -> [Double] {
        let k = b.count - 1
        let table = WindowTable.shared.table(self, gain: g, boundaries: b)
        let x = min(max(e, 2), 3000) / 2
        let i = min(Int(x), table.count / k - 2)
        let f = x - Double(i)
        return (0..<k).map { j in table[i * k + j] + (table[(i + 1) * k + j] - table[i * k + j]) * f }
    }

    /// The derivation itself: counts in each window [b0, b1), [b1, b2) ... per photon of energy e.
    func computeWindows(_ e: Double, gain g: Double, boundaries b: [Double]) -> [Double] {
        let p = Self.interaction(e)
        let pe = Self.photoShare(e)
        let tmax = e * (2 * e / 511) / (1 + 2 * e / 511)
        // Deposits on a grid of 2 keV: single-scatter recoils (Klein-Nishina dσ/dT), multiple
        // scatters spread over [tmax, e], photoabsorption at e.
        var deposits: [(Double, Double)] = []
        let a = e / 511
        let step = max(1.0, tmax / 200)
        var t = step / 2
        var kn: [(Double, Double)] = []
        var knSum = 0.0
        while t < tmax {
            let s = t / e
            let w = 2 + s * s / (a * a * (1 - s) * (1 - s)) + s / (1 - s) * (s - 2 / a)
            kn.append((t, max(0, w)))
            knSum += max(0, w)
            t += step
        }
        let compton = (1 - pe) * (1 - multipleScatter)
        for (t, w) in kn where knSum > 0 { deposits.append((t, compton * w / knSum)) }
        let msPoints = 10
        for i in 0..<msPoints {
            deposits.append((tmax + (e - tmax) * (Double(i) + 0.5) / Double(msPoints), (1 - pe) * multipleScatter / Double(msPoints)))
        }
        deposits.append((e, pe))
        var out = [Double](repeating: 0, count: b.count - 1)
        let edges = b.map { $0 / g }
        var c = [Double](repeating: 0, count: b.count)
        for (t, w) in deposits {
            let sigma = max(1, fwhm662 * (662 * t).squareRoot() / 2.355)
            for j in 0..<edges.count { c[j] = Self.phi((edges[j] - t) / sigma) }
            for j in 0..<out.count { out[j] += w * (c[j + 1] - c[j]) }
        }
        return out.map { p * $0 }
    }

    /// Each window's share of the counts of photons `incident` (energy, relative flux) on panel p.
    func windowShares(_ incident: [(Double, Double)], panel p: Int, boundaries b: [Double]) -> [Double] {
        let g = gains[p % gains.count]
        var counts = [Double](repeating: 0, count: b.count - 1)
        for (e, w) in incident where w > 0 && e > 0 {
            let r = windowResponse(e, gain: g, boundaries: b)
            for j in 0..<counts.count { counts[j] += w * r[j] }
        }
        let all = counts.reduce(0, +)
        return all > 0 ? counts.map { $0 / all } : counts.map { _ in 1 / Double(counts.count) }
    }

    /// Low-window share of the counts of photons `incident` (energy, relative flux) on panel p.
    func lowShare(_ incident: [(Double, Double)], panel p: Int) -> Double {
        let g = gains[p % gains.count]
        var low = 0.0, all = 0.0
        for (e, w) in incident where w > 0 && e > 0 {
            let (l, h) = windows(e, gain: g)
            low += w * l
            all += w * (l + h)
        }
        return all > 0 ? low / all : 0.5
    }

    /// Lines after cargo of optical depth tau at 662 keV: the transmitted part, and of the rest
    /// `scatter` reaching the panel scattered through a spread of angles.
    static func throughCargo(_ lines: [(Double, Double)], tau: Double, scatter: Double) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        let cosines = [0.85, 0.5, 0.1, -0.4]
        for (e, w) in lines {
            let depth = tau * (kleinNishina(e) / kleinNishina(662) + 0.05 * pow(100 / e, 3))
            let through = exp(-depth)
            out.append((e, w * through))
            for c in cosines { out.append((scattered(e, cos: c), w * (1 - through) * scatter / Double(cosines.count))) }
        }
        return out
    }

    /// The site's background as it reaches the panels: direct lines, single ground scatters, and
    /// a multiply scattered lump at 50-250 keV.
    var backgroundIncident: [(Double, Double)] {
        let primary = Self.mixture(siteMix)
        var out: [(Double, Double)] = []
        let cosines = [0.9, 0.6, 0.3, 0, -0.5, -1]
        for (e, w) in primary {
            out.append((e, w * (1 - groundScatter)))
            for c in cosines { out.append((Self.scattered(e, cos: c), w * groundScatter * 0.6 / Double(cosines.count))) }
        }
        for i in 0..<5 { out.append((50 + 40 * Double(i) + 20, groundScatter * 0.4 / 5)) }
        return out
    }

    // MARK: what the world asks

    /// The low-window share of panel p's background.
    public func backgroundLowShare(panel p: Int) -> Double {
        legacy ? 0.55 : lowShare(backgroundIncident, panel: p)
    }

    /// The low-window share of a source's counts on panel p behind cargo that transmits
    /// `attenuation` of its counts (`mix`: a NORM load's K/U/Th shares; `selfScatter`: the share
    /// of a NORM load's photons scattered in the load itself).
    public func sourceLowShare(_ type: SourceType, attenuation: Double, panel p: Int, mix: [Double]? = nil, selfScatter: Double = 0) -> Double {
        if legacy { return type.lowFraction }
        return lowShare(sourceIncident(type, attenuation: attenuation, mix: mix, selfScatter: selfScatter), panel: p)
    }

    /// Multi-window panels (issue 13): each window's share of panel p's background, for window
    /// boundaries `b` in keV (K + 1 values, increasing; counts outside [b0, bK) are not counted).
    /// Derived members only (lane-sim's fixed shares know two windows).
    public func backgroundWindowShares(panel p: Int, boundaries b: [Double]) -> [Double] {
        windowShares(backgroundIncident, panel: p, boundaries: b)
    }

    /// Each window's share of a source's counts on panel p (as `sourceLowShare`).
    public func sourceWindowShares(_ type: SourceType, attenuation: Double, panel p: Int, boundaries b: [Double], mix: [Double]? = nil,
                                   selfScatter: Double = 0) -> [Double] {
        windowShares(sourceIncident(type, attenuation: attenuation, mix: mix, selfScatter: selfScatter), panel: p, boundaries: b)
    }

    /// The photons of a source reaching a panel through cargo transmitting `attenuation`.
    func sourceIncident(_ type: SourceType, attenuation: Double, mix: [Double]?, selfScatter: Double) -> [(Double, Double)] {
        var primary: [(Double, Double)]
        if type == .norm {
            primary = Self.mixture(mix ?? siteMix)
            if selfScatter > 0 { primary = Self.throughCargo(primary, tau: -log(max(0.05, 1 - selfScatter)), scatter: 1) }
        } else {
            primary = Self.lines[type] ?? [(662, 1)]
        }
        return Self.throughCargo(primary, tau: -log(min(1, max(0.05, attenuation))), scatter: cargoScatter)
    }

    /// One line per member for reports.
    public var summary: String {
        if legacy { return "lane-sim's fixed shares (background 0.55, Cs-137 0.80, HEU 0.92, Ba-133 0.88, Co-60 0.45, NORM 0.35)" }
        return String(format: "split %.0f keV, LLD %.0f keV, FWHM %.0f %%, gains %@, site K/U/Th %.2f/%.2f/%.2f, ground scatter %.2f, cargo scatter %.2f",
                      windowSplitKev, lldKev, fwhm662 * 100, gains.map { String(format: "%.2f", $0) }.joined(separator: "/"),
                      siteMix[0], siteMix[1], siteMix[2], groundScatter, cargoScatter)
    }
}

/// The window responses of each (member, gain) on a 2 keV grid, computed once and shared
/// between passes and threads.
final class WindowTable: @unchecked Sendable {
    static let shared = WindowTable()
    let lock = NSLock()
    var tables: [String: [Double]] = [:]

    /// The response at 0, 2, 4 ... 3000 keV, K values per grid point (flattened).
    func table(_ p: Physics, gain g: Double, boundaries b: [Double]) -> [Double] {
        let key = "\(b)/\(p.fwhm662)/\(p.multipleScatter)/\(g)"
        lock.lock()
        if let t = tables[key] { lock.unlock(); return t }
        lock.unlock()
        var t = [Double](repeating: 0, count: b.count - 1)
        for i in 1...1500 { t += p.computeWindows(Double(i) * 2, gain: g, boundaries: b) }
        lock.lock(); tables[key] = t; lock.unlock()
        return t
    }
}
