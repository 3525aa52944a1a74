namespace WorkerHosting;

/// <summary>
/// What a run of the app's code is within a process that uses workers.
/// </summary>
public enum WorkerRole
{
    /// <summary>
    /// The process's coordinator: it owns the listening sockets and the workers and serves no request itself.
    /// The app's hosted services do not run here.
    /// </summary>
    Coordinator,

    /// <summary>
    /// One of the workers: it serves requests and runs the app's hosted services in its own load context.
    /// </summary>
    Worker,

    /// <summary>
    /// A single host that serves the app itself, with no workers: for example under <c>WebApplicationFactory</c>'s
    /// test server, or on a server other than Kestrel.
    /// </summary>
    Standalone,
}
