namespace WorkerHosting;

/// <summary>
/// What a worker is doing.
/// </summary>
public enum WorkerState
{
    /// <summary>Its load context is created and its app is starting; it receives no connection yet.</summary>
    Starting,

    /// <summary>It serves requests.</summary>
    Ready,

    /// <summary>It receives no new connection and finishes its in-flight requests before it stops.</summary>
    Draining,
}
