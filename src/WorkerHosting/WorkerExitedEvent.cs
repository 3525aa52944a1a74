namespace WorkerHosting;

/// <summary>
/// A worker that has ended, as <see cref="IWorkerLifecycleObserver.OnWorkerExitedAsync"/> reports it.
/// </summary>
/// <remarks>
/// A class with init-only properties rather than a positional record, so that later versions can add members.
/// </remarks>
public sealed class WorkerExitedEvent
{
    /// <summary>
    /// Gets the worker's slot.
    /// </summary>
    /// <value>The slot the worker served in.</value>
    public required int Slot { get; init; }

    /// <summary>
    /// Gets the worker's generation in its slot.
    /// </summary>
    /// <value>The generation, from 1.</value>
    public required int Generation { get; init; }

    /// <summary>
    /// Gets why the worker ended.
    /// </summary>
    /// <value>The operation that stopped it, or <see cref="WorkerExitReason.Failure"/>. Defaults to <see cref="WorkerExitReason.Failure"/>.</value>
    public WorkerExitReason Reason { get; init; }

    /// <summary>
    /// Gets the exception the worker ended with.
    /// </summary>
    /// <value>
    /// What its app threw, or why it failed to start (for example a <see cref="TimeoutException"/> at the startup
    /// timeout); <see langword="null"/> when it ended without one. Defaults to <see langword="null"/>.
    /// </value>
    public Exception? Exception { get; init; }

    /// <summary>
    /// Gets how many requests the worker served.
    /// </summary>
    /// <value>The requests it served. Defaults to 0.</value>
    public long RequestsServed { get; init; }

    /// <summary>
    /// Gets whether the worker did not exit in time after it was asked to stop and was given up on.
    /// </summary>
    /// <value>
    /// <see langword="true"/> when it had not ended within its graceful timeout plus a margin: its code may still run, and
    /// its memory stays until the process ends. Defaults to <see langword="false"/>.
    /// </value>
    public bool GivenUp { get; init; }
}
