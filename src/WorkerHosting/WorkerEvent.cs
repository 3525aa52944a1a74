namespace WorkerHosting;

/// <summary>
/// One worker, as <see cref="IWorkerLifecycleObserver.OnWorkerBootingAsync"/> and
/// <see cref="IWorkerLifecycleObserver.OnWorkerReadyAsync"/> report it.
/// </summary>
/// <remarks>
/// A class with init-only properties rather than a positional record, so that later versions can add members.
/// </remarks>
public sealed class WorkerEvent
{
    /// <summary>
    /// Gets the worker's slot.
    /// </summary>
    /// <value>The slot, from 0 to the worker count minus 1.</value>
    public required int Slot { get; init; }

    /// <summary>
    /// Gets the worker's generation in its slot.
    /// </summary>
    /// <value>The generation: 1 for a slot's first worker, one more for each worker that replaces the one before.</value>
    public required int Generation { get; init; }
}
