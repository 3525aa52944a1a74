namespace WorkerHosting;

/// <summary>
/// Code the app runs in the coordinator when the worker pool starts, is ready, boots, readies or loses a worker, reloads,
/// changes its count, and stops: gunicorn's server hooks, the .NET way. Register implementations in dependency injection
/// (<c>builder.Services.AddSingleton&lt;IWorkerLifecycleObserver, MyHooks&gt;()</c>); implement only the methods you need,
/// the others do nothing.
/// </summary>
/// <remarks>
/// <para>
/// The coordinator resolves every registered observer from its own services the first time it raises an event, and
/// calls them for each event in registration order. Events are raised in the order the pool's operations make them (see
/// docs/hooks.md for the order of a start, a reload, a scale and a stop) and delivered one at a time, in that order, off
/// the pool's control loop: the pool never waits for an observer. A call that throws is logged and the next one runs; a
/// call that has not completed within 5 seconds is logged, its <see cref="CancellationToken"/> is cancelled, and the next
/// one runs (the late call is left to finish on its own). When the pool stops, the stop waits for the events already
/// raised (<see cref="OnPoolStoppedAsync"/> last), within the host's shutdown timeout.
/// </para>
/// <para>
/// The same <c>Program.cs</c> runs in every worker, so the observer is registered in every worker's services too: there
/// the pool never calls it (nor creates it). Under a test server, where no workers start, it is never called either.
/// Register observers as singletons (or transient): the coordinator resolves them from its root services.
/// </para>
/// <para>
/// Inside a worker, code that must run before the worker serves its first request is an <c>IHostedService</c>
/// (<c>StartAsync</c>, or <c>IHostedLifecycleService.StartingAsync</c>): a worker takes no connection until every hosted
/// service of its host has started, and one that fails or does not finish within <see cref="WorkersOptions.StartupTimeout"/>
/// fails the worker's start.
/// </para>
/// </remarks>
public interface IWorkerLifecycleObserver
{
    /// <summary>
    /// Called once, when the pool begins to start, before its first worker boots (gunicorn's <c>on_starting</c>).
    /// </summary>
    /// <param name="poolEvent">The pool: <see cref="WorkerPoolEvent.Count"/> is the number of workers it starts.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnPoolStartingAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called once, when the pool's first start has ended with at least one worker ready (gunicorn's <c>when_ready</c>).
    /// Slots whose worker failed restart after it. If no worker starts, the app fails to start and this is not called.
    /// </summary>
    /// <param name="poolEvent">The pool: how many workers it keeps, and how many serve.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnPoolReadyAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called when a new worker begins to boot in a slot: at the start, on a restart, a reload, a recycle or a scale up
    /// (gunicorn's <c>pre_fork</c> and <c>post_fork</c>).
    /// </summary>
    /// <param name="workerEvent">The worker: its slot and generation.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnWorkerBootingAsync(WorkerEvent workerEvent, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called when a worker is ready and takes connections: every hosted service of its host has started
    /// (gunicorn's <c>post_worker_init</c>, as seen from the coordinator).
    /// </summary>
    /// <param name="workerEvent">The worker: its slot and generation.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnWorkerReadyAsync(WorkerEvent workerEvent, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called once per worker when it has ended, or was given up on because it did not exit in time, with the reason
    /// (gunicorn's <c>child_exit</c> and <c>worker_exit</c>). A worker that failed to start is reported here too, with
    /// <see cref="WorkerExitReason.Failure"/>.
    /// </summary>
    /// <param name="exitedEvent">The worker, why it ended, and the exception it ended with, if any.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnWorkerExitedAsync(WorkerExitedEvent exitedEvent, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called when a rolling reload begins (SIGHUP, <see cref="IWorkerPool.ReloadAsync"/>, or a change of the app's files
    /// with <see cref="WorkersOptions.Watch"/>), before its first new worker boots (gunicorn's <c>on_reload</c>).
    /// </summary>
    /// <param name="poolEvent">The pool: how many workers the reload replaces, and how many serve.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnReloadStartingAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called when a rolling reload has ended: after the last replaced worker has exited, or at once when the reload
    /// failed or was cancelled. The result is the one <see cref="IWorkerPool.ReloadAsync"/> returns.
    /// </summary>
    /// <param name="result">The reload's outcome.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnReloadEndedAsync(WorkerReloadResult result, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called when the worker count changes (SIGTTIN, SIGTTOU, <see cref="IWorkerPool.ScaleAsync"/>, or a new
    /// <c>Workers:Count</c> in configuration), before the new workers boot or the removed ones are stopped (gunicorn's
    /// <c>nworkers_changed</c>). Not called for the first start.
    /// </summary>
    /// <param name="countEvent">The count before and after.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnCountChangedAsync(WorkerCountChangedEvent countEvent, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called once, when the pool begins to stop (the host stops: SIGTERM, SIGINT, SIGQUIT, or the app stops itself),
    /// before its workers are asked to drain.
    /// </summary>
    /// <param name="poolEvent">The pool: how many workers it keeps, and how many serve.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnPoolStoppingAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called once, last, when every worker has exited or been given up on, before the process exits (gunicorn's
    /// <c>on_exit</c>).
    /// </summary>
    /// <param name="poolEvent">The pool: how many workers it kept.</param>
    /// <param name="cancellationToken">Cancelled when the call has taken longer than its bound.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    Task OnPoolStoppedAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken) => Task.CompletedTask;
}
