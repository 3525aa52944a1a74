namespace WorkerHosting.Workers;

/// <summary>
/// The coordinator's handle on one worker: what the control loop starts, waits on, stops and unloads. The real one runs
/// the app in its own load context (<see cref="WorkerInstance"/>); unit tests use a fake.
/// </summary>
internal interface IWorkerHandle
{
    /// <summary>Gets the worker's slot.</summary>
    int Slot { get; }

    /// <summary>Gets the worker's generation in its slot.</summary>
    int Generation { get; }

    /// <summary>Gets when the worker started to boot.</summary>
    DateTimeOffset StartedAt { get; }

    /// <summary>Gets how many requests the worker has served.</summary>
    long RequestsServed { get; }

    /// <summary>Gets the requests the worker serves before it is recycled; <see cref="long.MaxValue"/> for no limit.</summary>
    long RequestLimit { get; }

    /// <summary>Gets whether the worker has been asked to stop.</summary>
    bool StopRequested { get; }

    /// <summary>
    /// Gets whether the worker had been asked to stop when it ended: its end was planned, not a failure. Read once
    /// <see cref="Exited"/> has completed.
    /// </summary>
    bool ExitPlanned { get; }

    /// <summary>Gets a task that completes when the worker is ready to serve, and faults if it ends first.</summary>
    Task Ready { get; }

    /// <summary>Gets a task that completes when the worker has ended, with the exception it ended with, if any.</summary>
    Task<Exception?> Exited { get; }

    /// <summary>Starts booting the worker.</summary>
    void Start();

    /// <summary>Lets the coordinator hand the worker connections.</summary>
    void Activate();

    /// <summary>
    /// Asks the worker to stop, draining in-flight requests within <paramref name="gracefulTimeout"/>. With
    /// <paramref name="redirectConnections"/>, new connections go to other workers first. Completes once the stop has
    /// been asked for; <see cref="Exited"/> tells when it has ended.
    /// </summary>
    Task StopAsync(bool redirectConnections, TimeSpan gracefulTimeout);

    /// <summary>
    /// Drops every reference into the ended worker and unloads its code. Returns what to verify it was collected with,
    /// or null if there is nothing to verify.
    /// </summary>
    UnloadingWorker? Unload();

    /// <summary>
    /// The worker did not exit within <paramref name="waited"/> of being asked to stop and is given up: it is not unloaded
    /// (its code still runs). Returns what to report it as kept in memory with, or null.
    /// </summary>
    UnloadingWorker? GiveUp(TimeSpan waited);
}
