namespace WorkerHosting.Lifecycle;

/// <summary>Why a worker ended: set by the operation that stops it (a worker that ends unasked failed).</summary>
internal enum WorkerExitReason
{
    /// <summary>It ended without being asked to, or it failed to start.</summary>
    Failure,

    /// <summary>A rolling reload replaced it.</summary>
    Reload,

    /// <summary>It served its MaxRequests and was replaced.</summary>
    Recycle,

    /// <summary>Its slot was removed (the worker count went down).</summary>
    Scale,

    /// <summary>The pool stopped (or was stopping while it started).</summary>
    Stop,
}
