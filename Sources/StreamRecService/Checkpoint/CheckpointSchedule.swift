/// When the next periodic checkpoint starts: `interval` after the last one started, or later when
/// checkpoints are expensive — no sooner than ``cpuShareDivisor`` times the CPU time the last one took on the
/// writer's thread (encode, write, fsync), also counted from its start. So checkpoints use at most
/// 1/``cpuShareDivisor`` of a core, whatever the state's size; with a small state (a checkpoint well under
/// `interval` / ``cpuShareDivisor`` of CPU) they stay exactly `interval` apart.
///
/// Input re-read after a crash: everything after the last durable checkpoint's start, so at most
/// max(`interval`, ``cpuShareDivisor`` × a checkpoint's CPU time) plus the time one checkpoint takes to become
/// durable.
struct CheckpointSchedule {
    /// At 100k users a checkpoint takes 0.4–0.5 CPU s on the writer's thread (more in the loop: the engine's
    /// copy-on-write after it, freeing the copy); every 5 s that was ≈ 10 % of a core, taken from recommending
    /// while the service works off a backlog (docs/performance.md, "Session 9").
    static let cpuShareDivisor = 20

    let interval: Duration
    private(set) var lastStart: ContinuousClock.Instant
    /// CPU time of the last checkpoint that finished (written or postponed); zero before the first.
    private(set) var lastCPUTime: Duration = .zero

    init(interval: Duration, start: ContinuousClock.Instant) {
        self.interval = interval
        lastStart = start
    }

    /// The earliest time the next checkpoint may start.
    var nextStart: ContinuousClock.Instant { lastStart + max(interval, lastCPUTime * Self.cpuShareDivisor) }

    func isDue(at now: ContinuousClock.Instant) -> Bool { now >= nextStart }

    mutating func started(at now: ContinuousClock.Instant) { lastStart = now }

    mutating func finished(cpuTime: Duration) { lastCPUTime = cpuTime }
}
