namespace WorkerHosting;

/// <summary>
/// One worker, as <see cref="IWorkerPool.GetWorkers"/> saw it.
/// </summary>
/// <remarks>
/// A class with init-only properties rather than a positional record, so that later versions can add members without
/// breaking callers. Two snapshots are equal only if they are the same instance; compare their properties.
/// </remarks>
public sealed class WorkerSnapshot
{
    /// <summary>
    /// Gets the worker's slot: a stable number from 0 to the worker count minus one.
    /// </summary>
    public required int Slot { get; init; }

    /// <summary>
    /// Gets the generation of the worker in its slot, which goes up every time the slot is given a new worker.
    /// </summary>
    /// <value>1 for the first worker in a slot.</value>
    public required int Generation { get; init; }

    /// <summary>
    /// Gets what the worker is doing.
    /// </summary>
    public required WorkerState State { get; init; }

    /// <summary>
    /// Gets when the worker started to boot.
    /// </summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>
    /// Gets how many requests the worker has served.
    /// </summary>
    /// <value>The number of requests the worker has served. Defaults to 0.</value>
    public long RequestsServed { get; init; }
}
