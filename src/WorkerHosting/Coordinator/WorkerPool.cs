using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using WorkerHosting.Configuration;
using WorkerHosting.Diagnostics;
using WorkerHosting.Health;
using WorkerHosting.Lifecycle;
using WorkerHosting.Workers;

namespace WorkerHosting.Coordinator;

/// <summary>
/// The pool as the coordinator and the app see it (<see cref="IWorkerPool"/>): every call becomes a command to the
/// <see cref="ControlLoop"/>, the one owner of the workers' state.
/// </summary>
internal sealed class WorkerPool : IWorkerPool, IDisposable
{
    private readonly ControlLoop _loop;

    public WorkerPool(
        WorkersOptions options,
        IWorkerFactory factory,
        Func<IEnumerable<IWorkerLifecycleObserver>> observers,
        IHostApplicationLifetime lifetime,
        WorkersMetrics metrics,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        ShutdownState? shutdown = null)
    {
        _loop = new ControlLoop(options, factory, observers, lifetime, metrics, loggerFactory, timeProvider);
        Shutdown = shutdown ?? new ShutdownState();
    }

    /// <summary>The control loop (for tests).</summary>
    internal ControlLoop Loop => _loop;

    /// <summary>Where the process is in its stop (the readiness check and the shutdown delay read it).</summary>
    public ShutdownState Shutdown { get; }

    /// <summary>The options new workers and operations use.</summary>
    public WorkersOptions Options => _loop.Options;

    /// <summary>How many slots the pool has (the worker count it keeps).</summary>
    public int Count => _loop.Set.Count;

    /// <summary>
    /// Boots the configured number of workers at once. Throws if none could start (with every distinct failure); slots
    /// whose worker failed restart.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_loop.IsRunning)
        {
            throw new InvalidOperationException("The workers have already started.");
        }

        _loop.Run();
        var reply = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = cancellationToken.UnsafeRegister(static loop => ((ControlLoop)loop!).CancelOperations(), _loop);
        _loop.Post(new WorkerCommand.Start(reply));
        await reply.Task.ConfigureAwait(false);
    }

    /// <summary>Applies new, valid options to what comes next: new workers, operations and restarts.</summary>
    public void ChangeOptions(WorkersOptions options) => _loop.Post(new WorkerCommand.ChangeOptions(options));

    public Task<WorkerReloadResult> ReloadAsync(CancellationToken cancellationToken = default)
    {
        if (!_loop.IsRunning)
        {
            return Task.FromResult(new WorkerReloadResult { Succeeded = false, Error = "There are no workers to reload: the app runs standalone or has not started." });
        }

        return _loop.RequestReload().WaitAsync(cancellationToken);
    }

    public Task ScaleAsync(int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, WorkersOptionsValidator.MaxCount);
        return ScaleCoreAsync(_ => count).WaitAsync(cancellationToken);
    }

    /// <summary>Adds or removes workers relative to the current count (SIGTTIN, SIGTTOU); never below one.</summary>
    public Task ScaleByAsync(int delta) => ScaleCoreAsync(current => current + delta);

    public IReadOnlyList<LeakedWorkerSnapshot> GetLeakedWorkers() => _loop.UnloadVerifier.GetLeakedWorkers();

    public IReadOnlyList<WorkerSnapshot> GetWorkers() => _loop.Set.Snapshot();

    /// <summary>
    /// Ends the ready worker of <paramref name="slot"/> as if its app had stopped on its own, which the pool handles as a
    /// failure (WorkerHosting.Testing). Returns its generation, or null when the slot has no ready worker.
    /// </summary>
    internal int? EndWorkerUnasked(int slot)
    {
        foreach (var worker in _loop.Set.Workers)
        {
            if (worker.Slot.Index == slot && worker.State == WorkerState.Ready && worker.Handle is WorkerInstance instance && instance.Runtime.EndUnasked())
            {
                return instance.Generation;
            }
        }

        return null;
    }

    /// <summary>The hot upgrade of the process (set where the pool runs in a coordinator).</summary>
    internal ProcessUpgrade? Upgrade { get; set; }

    public Task<ProcessUpgradeResult> UpgradeProcessAsync(CancellationToken cancellationToken = default)
    {
        if (Upgrade is not { } upgrade || !_loop.IsRunning)
        {
            return Task.FromResult(new ProcessUpgradeResult { Succeeded = false, Error = "There is no process to upgrade: the app runs standalone or has not started." });
        }

        return upgrade.UpgradeAsync(cancellationToken);
    }

    /// <summary>Whether the workers have been started (and the process is not a standalone host).</summary>
    public bool IsRunning => _loop.IsRunning;

    /// <summary>
    /// What a readiness probe sees now: the slots, those with a ready worker, those restarting without one (a restarted
    /// worker on probation serves), and whether the process stops.
    /// </summary>
    public WorkersReadiness GetReadiness()
    {
        var slots = _loop.Set.Slots;
        var ready = new HashSet<WorkerSlot>();
        foreach (var worker in _loop.Set.Workers)
        {
            if (worker.State == WorkerState.Ready)
            {
                ready.Add(worker.Slot);
            }
        }

        return new WorkersReadiness(
            Shutdown.IsStopping,
            slots.Length,
            slots.Count(ready.Contains),
            slots.Count(s => s.State == WorkerSlotState.Restarting && !ready.Contains(s)));
    }

    /// <summary>
    /// Stops every worker at once, each draining within <paramref name="gracefulTimeout"/>; anything under way (a reload, a
    /// restart, a worker still booting) is cancelled and its workers are stopped too. <paramref name="cancellationToken"/>
    /// is the host's hard deadline: what is left then is abandoned with the process.
    /// </summary>
    public async Task StopAsync(TimeSpan gracefulTimeout, CancellationToken cancellationToken)
    {
        if (!_loop.IsRunning)
        {
            return;
        }

        _loop.CancelOperations();
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loop.Post(new WorkerCommand.Stop(gracefulTimeout, stopped));
        try
        {
            await stopped.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            await _loop.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);

            // Restarts that were cancelled, drains, and the unload verification of the last workers.
            await Task.WhenAll(_loop.Background()).WaitAsync(cancellationToken).ConfigureAwait(false);

            // The lifecycle hooks still queued, OnPoolStoppedAsync last; each is bounded, and the host's deadline bounds all.
            _loop.Hooks.Complete();
            await _loop.Hooks.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host's hard deadline.
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Each background task logs its own failure.
        }
    }

    public void Dispose() => _loop.Dispose();

    private Task ScaleCoreAsync(Func<int, int> target)
    {
        if (!_loop.IsRunning)
        {
            return Task.CompletedTask;
        }

        var reply = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loop.Post(new WorkerCommand.Scale(target, reply));
        return reply.Task;
    }
}
