using WorkerHosting.Configuration;

namespace WorkerHosting;

/// <summary>
/// How a worker that ends on its own (its app stopped it, its entry point returned or threw, a background service
/// failed and stopped its host, it failed to start) is replaced: in the same slot, with a new generation, after an
/// exponential backoff with jitter. Bound from <c>Workers:Restart</c>.
/// </summary>
public sealed class WorkerRestartOptions
{
    /// <summary>
    /// Gets or sets the delay before the second attempt to restart a slot; each further attempt doubles it.
    /// The first restart after a worker that served for <see cref="ResetAfter"/> is immediate.
    /// </summary>
    /// <value>Defaults to 500 milliseconds. Must be positive.</value>
    public TimeSpan Delay { get; set; } = WorkersDefaults.RestartDelay;

    /// <summary>
    /// Gets or sets the longest delay between two restarts of one slot.
    /// </summary>
    /// <value>Defaults to 30 seconds. Must be at least <see cref="Delay"/>.</value>
    public TimeSpan MaxDelay { get; set; } = WorkersDefaults.RestartMaxDelay;

    /// <summary>
    /// Gets or sets whether the delays vary at random, so slots that fail together do not restart together.
    /// </summary>
    /// <value>Defaults to <see langword="true"/>.</value>
    public bool UseJitter { get; set; } = true;

    /// <summary>
    /// Gets or sets how long a worker must serve before its slot's backoff starts again from no delay.
    /// A worker that ends sooner counts as a failure.
    /// </summary>
    /// <value>Defaults to 30 seconds. Must be positive.</value>
    public TimeSpan ResetAfter { get; set; } = WorkersDefaults.RestartResetAfter;

    /// <summary>
    /// Gets or sets how many failures (a worker that fails to start, or ends before <see cref="ResetAfter"/>) the whole
    /// pool tolerates within <see cref="FailureWindow"/>. One more is a crash loop: the process logs the last failure
    /// and exits with code 3, as gunicorn does when workers cannot boot.
    /// </summary>
    /// <value>Defaults to 5. Must be at least 1.</value>
    public int MaxFailures { get; set; } = WorkersDefaults.CrashLoopMaxFailures;

    /// <summary>
    /// Gets or sets the window in which <see cref="MaxFailures"/> is counted.
    /// </summary>
    /// <value>Defaults to 1 minute. Must be positive.</value>
    public TimeSpan FailureWindow { get; set; } = WorkersDefaults.CrashLoopWindow;
}
