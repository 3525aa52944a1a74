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
}
