namespace WorkerHosting;

/// <summary>
/// The outcome of a hot upgrade of the process, as <see cref="IWorkerPool.UpgradeProcessAsync"/> returns it.
/// </summary>
/// <remarks>
/// A class with init-only properties rather than a positional record, so that later versions can add members without
/// breaking callers.
/// </remarks>
public sealed class ProcessUpgradeResult
{
    /// <summary>
    /// Gets whether the new process reported its workers ready: it serves the listening sockets, and this process stops
    /// (it drains as on SIGTERM, then exits 0).
    /// </summary>
    public required bool Succeeded { get; init; }

    /// <summary>
    /// Gets the new process's ID.
    /// </summary>
    /// <value>The PID of the process that was started, or <see langword="null"/> when none was. Defaults to <see langword="null"/>.</value>
    public int? ProcessId { get; init; }

    /// <summary>
    /// Gets why the upgrade did not happen.
    /// </summary>
    /// <value>Why this process keeps serving, or <see langword="null"/> when the upgrade succeeded. Defaults to <see langword="null"/>.</value>
    public string? Error { get; init; }
}
