// SIGINT and SIGTERM as a stop request that loops poll; SIGPIPE ignored (a closed socket or pipe
// is an error value, not a death).

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Set by SIGINT or SIGTERM once `installStopSignals` has run.
public let stopRequested = Atomic<Bool>(false)

/// A parent may hand SIGINT and SIGTERM over blocked (a process spawned from a thread that blocks
/// them inherits its mask: a simulator started by a test then ignored every SIGTERM and ran to
/// the end of its scenario): unblock them, so that their default action, or our handler, runs.
public func unblockStopSignals() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

public func installStopSignals() {
    unblockStopSignals()
    let handler: @convention(c) (Int32) -> Void = { _ in stopRequested.store(true, ordering: .relaxed) }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    signal(SIGPIPE, SIG_IGN)
}
