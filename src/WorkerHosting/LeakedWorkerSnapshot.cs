namespace WorkerHosting;

/// <summary>
/// A worker that stopped and was unloaded, but whose load context is still alive: something outside the worker
/// references its code, and its memory does not come back.
/// </summary>
/// <remarks>
/// A class with init-only properties rather than a positional record, so that later versions can add members without
/// breaking callers. Two snapshots are equal only if they are the same instance; compare their properties.
/// </remarks>
public sealed class LeakedWorkerSnapshot
{
    /// <summary>
    /// Gets the slot the worker served in.
    /// </summary>
    public required int Slot { get; init; }

    /// <summary>
    /// Gets the worker's generation in its slot.
    /// </summary>
    public required int Generation { get; init; }

    /// <summary>
    /// Gets when the worker's unloading was verified and it was found alive.
    /// </summary>
    public required DateTimeOffset StoppedAt { get; init; }

    /// <summary>
    /// Gets an estimate of the managed memory the worker holds.
    /// </summary>
    /// <value>
    /// Its share of the live heap's growth across the unloading that found it alive, or the bytes of the assemblies it
    /// loaded if more, in bytes. Compiled code and type data come on top.
    /// </value>
    public required long EstimatedBytes { get; init; }

    /// <summary>
    /// Gets what holds the worker, as far as the process can tell, and what the app can do.
    /// </summary>
    public required string HeldBy { get; init; }
}
