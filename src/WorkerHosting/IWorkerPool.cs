namespace WorkerHosting;

/// <summary>
/// Operates the process's workers: rolling reload, scaling, and a snapshot for operators. Resolves from dependency
/// injection in the coordinator and in every worker; the same operations are on signals (SIGHUP reloads, SIGTTIN
/// adds a worker, SIGTTOU removes one).
/// </summary>
/// <remarks>
/// A worker that calls <see cref="ReloadAsync"/> is itself replaced during the reload and drained within the graceful
/// timeout: a request handler that starts a reload should not wait for it to complete.
/// </remarks>
public interface IWorkerPool
{
    /// <summary>
    /// Replaces every worker, one slot at a time: a new worker loads the app from disk again, and only once it is ready
    /// is the old one drained and unloaded, so serving capacity never drops below the worker count. Reloads never
    /// overlap: one asked for while another runs starts when it ends.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the result (the reload goes on).</param>
    /// <returns>The outcome: whether every worker was replaced, or why the reload stopped (the old workers keep serving).</returns>
    Task<WorkerReloadResult> ReloadAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets the number of workers: new ones start in new slots; the highest slots are drained and removed.
    /// </summary>
    /// <param name="count">The new worker count, at least 1.</param>
    /// <param name="cancellationToken">Stops waiting for the change (it goes on).</param>
    /// <returns>A task that completes when the pool has the new count.</returns>
    Task ScaleAsync(int count, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gets a snapshot of the workers for operators.
    /// </summary>
    /// <returns>One entry per worker, by slot, including workers that are starting or draining.</returns>
    IReadOnlyList<WorkerSnapshot> GetWorkers();

    /// <summary>
    /// Gets the workers that stopped and were unloaded but whose load contexts are still alive: something outside the
    /// worker references its code, so its memory does not come back (see <see cref="WorkersOptions.MaxLeakedWorkers"/>).
    /// A worker collected later leaves the list.
    /// </summary>
    /// <returns>One entry per leaked worker, oldest first, with the least memory it holds and what holds it.</returns>
    IReadOnlyList<LeakedWorkerSnapshot> GetLeakedWorkers();

    /// <summary>
    /// Replaces the whole process with a new one of the same app (SIGUSR2 does the same): the same executable, arguments,
    /// environment and working directory, given the listening sockets themselves, so no connection is refused or reset.
    /// Once the new process reports its workers ready, this one stops accepting, drains as on SIGTERM, and exits 0. Use it
    /// for what an in-process reload cannot change: a new .NET runtime, a new WorkerHosting, or leaked load contexts.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the new process; it is stopped, and this process keeps serving.</param>
    /// <returns>
    /// The outcome: the new process's ID, or why this process keeps serving (the new one failed or was not ready in
    /// time, and was stopped; another upgrade runs; the process stops; the platform is not Linux).
    /// </returns>
    /// <remarks>
    /// Called from a request, do not wait for it: when it succeeds, the calling worker is drained with the rest of the
    /// process. The default implementation reports that the pool cannot upgrade the process.
    /// </remarks>
    Task<ProcessUpgradeResult> UpgradeProcessAsync(CancellationToken cancellationToken = default)
        => Task.FromResult(new ProcessUpgradeResult { Succeeded = false, Error = "This pool cannot upgrade the process." });
}
