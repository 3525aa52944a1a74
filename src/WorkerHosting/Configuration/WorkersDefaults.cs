namespace WorkerHosting.Configuration;

internal static class WorkersDefaults
{
    public static readonly TimeSpan GracefulTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Time the coordinator's host gets beyond <see cref="WorkersOptions.GracefulTimeout"/> to abort what is
    /// left, let Kestrel wait for aborted connections (up to 1 s), and dispose and unload the workers.
    /// </summary>
    public static readonly TimeSpan ShutdownMargin = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Time a stopped worker gets beyond its graceful timeout to exit (its server aborts what is left, its host disposes)
    /// before the coordinator gives up on it. Less than <see cref="ShutdownMargin"/>, so a stop ends before the host's.
    /// </summary>
    public static readonly TimeSpan ExitMargin = TimeSpan.FromSeconds(3);

    public static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long one call of a lifecycle hook (an <see cref="IWorkerLifecycleObserver"/> method) may take before the next
    /// one runs: its token is cancelled and the late call is logged and left to finish on its own.
    /// </summary>
    public static readonly TimeSpan HookTimeout = TimeSpan.FromSeconds(5);

    public static int Count => Environment.ProcessorCount;

    /// <summary>Leaked workers tolerated before an error says the process should be replaced.</summary>
    public const int MaxLeakedWorkers = 5;

    /// <summary>First delay before restarting a worker that ended on its own; it doubles per failure (PM2: 100 ms x 1.5).</summary>
    public static readonly TimeSpan RestartDelay = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest delay between restarts of one slot (PM2 hard-codes 15 s).</summary>
    public static readonly TimeSpan RestartMaxDelay = TimeSpan.FromSeconds(30);

    /// <summary>A worker that served this long resets its slot's backoff (PM2's EXP_BACKOFF_RESET_TIMER is 30 s).</summary>
    public static readonly TimeSpan RestartResetAfter = TimeSpan.FromSeconds(30);

    /// <summary>More failures than this within <see cref="CrashLoopWindow"/> end the process.</summary>
    public const int CrashLoopMaxFailures = 5;

    public static readonly TimeSpan CrashLoopWindow = TimeSpan.FromMinutes(1);
}
