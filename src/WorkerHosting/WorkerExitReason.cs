namespace WorkerHosting;

/// <summary>
/// Why a worker ended, as <see cref="IWorkerLifecycleObserver.OnWorkerExitedAsync"/> reports it: the operation that
/// stopped it, or <see cref="Failure"/> for a worker that ended without being asked to or failed to start.
/// </summary>
public enum WorkerExitReason
{
    /// <summary>It ended without being asked to (its app stopped or crashed), or it failed to start.</summary>
    Failure = 0,

    /// <summary>A rolling reload replaced it.</summary>
    Reload = 1,

    /// <summary>It served its <see cref="WorkersOptions.MaxRequests"/> and was replaced.</summary>
    Recycle = 2,

    /// <summary>Its slot was removed: the worker count went down.</summary>
    Scale = 3,

    /// <summary>The pool stopped (or was stopping while the worker started).</summary>
    Stop = 4,
}
