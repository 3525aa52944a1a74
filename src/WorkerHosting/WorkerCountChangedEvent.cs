namespace WorkerHosting;

/// <summary>
/// A change of the worker count, as <see cref="IWorkerLifecycleObserver.OnCountChangedAsync"/> reports it.
/// </summary>
/// <remarks>
/// A class with init-only properties rather than a positional record, so that later versions can add members.
/// </remarks>
public sealed class WorkerCountChangedEvent
{
    /// <summary>
    /// Gets the worker count before the change.
    /// </summary>
    /// <value>The previous count.</value>
    public required int PreviousCount { get; init; }

    /// <summary>
    /// Gets the worker count after the change.
    /// </summary>
    /// <value>The new count, at least 1.</value>
    public required int Count { get; init; }
}
