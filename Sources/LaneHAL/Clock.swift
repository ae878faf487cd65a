// The monotonic clock and absolute sleeps. Beam edge timestamps (libgpiod, the simulator's GPIO
// service) are CLOCK_MONOTONIC too; wall time never enters the alarm path.

#if canImport(Glibc)
import Glibc
#endif

public enum MonotonicClock {
    /// Microseconds since an arbitrary origin (boot), CLOCK_MONOTONIC.
    @inline(__always)
    public static func nowUs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }

    /// Sleeps until the absolute monotonic time `us`, resuming after signals (EINTR).
    public static func sleep(untilUs us: Int64) {
        var ts = timespec(tv_sec: Int(us / 1_000_000), tv_nsec: Int(us % 1_000_000) * 1_000)
        while true {
            let rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil)
            if rc != EINTR { return }
        }
    }
}

/// Wall-clock microseconds since the Unix epoch (for records and logs, never for decisions).
public func wallClockUs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
}

/// errno's text.
public func errnoText(_ e: Int32) -> String { String(cString: strerror(e)) }

/// Resident memory of this process (VmRSS), bytes; 0 when /proc is not there.
public func residentMemoryBytes() -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(cString: line)
        if s.hasPrefix("VmRSS:") {
            let kb = s.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
    }
    return 0
}
