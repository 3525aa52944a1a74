namespace WorkerHosting;

/// <summary>
/// The pool as a pool-wide hook of <see cref="IWorkerLifecycleObserver"/> sees it: when it starts, is ready, reloads or
/// stops.
/// </summary>
/// <remarks>
/// A class with init-only properties rather than a positional record, so that later versions can add members.
/// </remarks>
public sealed class WorkerPoolEvent
{
    /// <summary>
    /// Gets the number of workers the pool keeps.
    /// </summary>
    /// <value>The worker count (its slots) when the event was raised.</value>
    public required int Count { get; init; }

    /// <summary>
    /// Gets the number of workers that serve.
    /// </summary>
    /// <value>The workers ready and not draining when the event was raised. Defaults to 0.</value>
    public int ReadyCount { get; init; }
}
