// SIGINT and SIGTERM as a stop request that loops poll; SIGPIPE ignored (a closed socket or pipe
// is an error value, not a death).

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Set by SIGINT or SIGTERM once `installStopSignals` has run.
public let stopRequested = Atomic<Bool>(false)

public func installStopSignals() {
    // A parent may hand the signals over blocked (process spawners do): unblock them first.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    let handler: @convention(c) (Int32) -> Void = { _ in stopRequested.store(true, ordering: .relaxed) }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    signal(SIGPIPE, SIG_IGN)
}
