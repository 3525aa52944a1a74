using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Polly;
using WorkerHosting.Configuration;
using WorkerHosting.Diagnostics;
using WorkerHosting.Lifecycle;
using WorkerHosting.Listeners;
using WorkerHosting.Workers;

namespace WorkerHosting.Coordinator;

/// <summary>
/// The workers of the process, by slot. It boots workers, replaces the ones that end on their own (through the Polly
/// restart pipeline, with backoff and a crash-loop breaker), and runs one operation at a time: a rolling reload, a
/// scale, a max-requests recycle. A replacement is always ready before the worker it replaces drains, so serving
/// capacity never drops below the worker count.
/// </summary>
internal sealed partial class WorkerPool : IWorkerPool, IDisposable
{
    private readonly SharedEndpoints _endpoints;
    private readonly WorkerApplication _application;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ILogger _lifetimeLogger;
    private readonly TimeProvider _timeProvider;
    private readonly UnloadVerifier _unloadVerifier;

    private readonly Lock _lock = new();
    private readonly List<WorkerSlot> _slots = [];
    private readonly Dictionary<int, int> _generations = [];
    private readonly HashSet<WorkerInstance> _live = [];
    private readonly List<Task> _background = [];

    /// <summary>One operation (boot for a restart, reload, scale, recycle) at a time.</summary>
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();

    private WorkersOptions _options;
    private ResiliencePipeline? _restartPipeline;
    private CrashLoopDetector? _crashLoop;
    private SharedAssemblies? _sharedAssemblies;
    private SocketConnectionContextFactory? _connectionFactory;
    private string[] _args = [];
    private TaskCompletionSource<WorkerReloadResult>? _queuedReload;
    private bool _started;
    private bool _crashLooping;

    public WorkerPool(
        WorkersOptions options,
        SharedEndpoints endpoints,
        WorkerApplication application,
        IHostApplicationLifetime lifetime,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider)
    {
        _options = options;
        _endpoints = endpoints;
        _application = application;
        _lifetime = lifetime;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<WorkerPool>();
        _lifetimeLogger = loggerFactory.CreateLogger(WorkersLogCategories.Lifetime);
        _timeProvider = timeProvider;
        _unloadVerifier = new UnloadVerifier(_lifetimeLogger, _logger, timeProvider, () => Options.MaxLeakedWorkers, () => Options.ReleaseLeftovers);
    }

    /// <summary>The options new workers and operations use (a valid configuration reload replaces them).</summary>
    public WorkersOptions Options
    {
        get => Volatile.Read(ref _options);
        set => Volatile.Write(ref _options, value);
    }

    /// <summary>How many slots the pool has (the worker count it keeps).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _slots.Count;
            }
        }
    }

    /// <summary>
    /// Boots the configured number of workers at once. Throws if none could start; slots whose worker failed go to
    /// the restart pipeline.
    /// </summary>
    public async Task StartAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = Options;
        _args = args;
        _sharedAssemblies = SharedAssemblies.Create();
        _connectionFactory = new SocketConnectionContextFactory(
            new SocketConnectionFactoryOptions(),
            _loggerFactory.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets"));
        _restartPipeline = RestartPolicy.Create(options.Restart, _timeProvider, _lifetimeLogger);
        _crashLoop = new CrashLoopDetector(options.Restart.MaxFailures, options.Restart.FailureWindow, _timeProvider);

        WorkerSlot[] slots;
        lock (_lock)
        {
            _started = true;
            for (var i = 0; i < options.Count; i++)
            {
                _slots.Add(new WorkerSlot(i));
            }

            slots = [.. _slots];
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var failures = await BootSlotsAsync(slots, linked.Token).ConfigureAwait(false);
        if (failures.Count == slots.Length)
        {
            var first = failures[0];
            throw new InvalidOperationException(
                $"None of the {slots.Length} workers could start. The first worker failed with: {first.InnerException?.Message ?? first.Message}",
                first.InnerException ?? first);
        }

        foreach (var failure in failures)
        {
            RecordFailure(failure);
        }

        // The reference for estimating what a worker that stays alive after unloading holds.
        _unloadVerifier.RecordLiveHeap();
    }

    public Task<WorkerReloadResult> ReloadAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource<WorkerReloadResult> queued;
        lock (_lock)
        {
            if (!_started)
            {
                return Task.FromResult(new WorkerReloadResult(false, 0, "There are no workers to reload: the app runs standalone or has not started."));
            }

            // Reloads never overlap; requests made while one waits to start share it.
            if (_queuedReload is { } waiting)
            {
                return waiting.Task.WaitAsync(cancellationToken);
            }

            queued = _queuedReload = new TaskCompletionSource<WorkerReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        _ = Track(RunReloadAsync(queued));
        return queued.Task.WaitAsync(cancellationToken);
    }

    public Task ScaleAsync(int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, WorkersOptionsValidator.MaxCount);
        return Track(ScaleCoreAsync(_ => count)).WaitAsync(cancellationToken);
    }

    /// <summary>Adds or removes workers relative to the current count (SIGTTIN, SIGTTOU); never below one.</summary>
    public Task ScaleByAsync(int delta) => Track(ScaleCoreAsync(current => current + delta));

    public IReadOnlyList<LeakedWorkerSnapshot> GetLeakedWorkers() => _unloadVerifier.GetLeakedWorkers();

    public IReadOnlyList<WorkerSnapshot> GetWorkers()
    {
        lock (_lock)
        {
            return [.. _live.Select(w => w.Snapshot()).OrderBy(w => w.Slot).ThenBy(w => w.Generation)];
        }
    }

    /// <summary>
    /// Stops every worker at once, each draining within <paramref name="gracefulTimeout"/>; anything under way
    /// (a reload, a restart, a worker still booting) is cancelled and its workers are stopped too.
    /// </summary>
    public async Task StopAsync(TimeSpan gracefulTimeout, CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);

        WorkerInstance[] workers;
        lock (_lock)
        {
            workers = [.. _live];
        }

        var started = _timeProvider.GetTimestamp();
        Log.WorkersDraining(_lifetimeLogger, workers.Length, gracefulTimeout);

        await Task.WhenAll(workers.Select(w => w.Retiring
            ? WaitForExitAsync(w, cancellationToken)
            : w.StopAsync(redirectConnections: false, gracefulTimeout, cancellationToken))).ConfigureAwait(false);

        // Exit handling (unload and its verification), reloads and restarts that were cancelled.
        Task[] background;
        lock (_lock)
        {
            background = [.. _background];
        }

        try
        {
            await Task.WhenAll(background).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host's hard deadline: what is left is abandoned with the process.
        }
        catch (Exception)
        {
            // Each background task logs its own failure.
        }

        Log.WorkersStopped(_lifetimeLogger, workers.Length, _timeProvider.GetElapsedTime(started).TotalMilliseconds);
    }

    public void Dispose()
    {
        _connectionFactory?.Dispose();
        _stopping.Dispose();
        _gate.Dispose();
    }

    private static async Task<bool> WaitForExitAsync(WorkerInstance worker, CancellationToken cancellationToken)
    {
        try
        {
            await worker.Runtime.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Boots a worker in each slot at once; returns the failures (their slots are left to restart).</summary>
    private async Task<List<WorkerFailedException>> BootSlotsAsync(WorkerSlot[] slots, CancellationToken cancellationToken)
    {
        var boots = slots.Select(slot => BootAsync(slot, cancellationToken)).ToArray();
        try
        {
            await Task.WhenAll(boots).ConfigureAwait(false);
        }
        catch (WorkerFailedException)
        {
            // Collected below, slot by slot.
        }

        var failures = new List<WorkerFailedException>();
        for (var i = 0; i < slots.Length; i++)
        {
            if (boots[i].IsCompletedSuccessfully)
            {
                lock (_lock)
                {
                    slots[i].Current = boots[i].Result;
                }
            }
            else if (boots[i].Exception?.InnerException is WorkerFailedException failure)
            {
                failures.Add(failure);
            }
            else
            {
                // Cancelled: the pool is stopping.
                await boots[i].ConfigureAwait(false);
            }
        }

        return failures;
    }

    /// <summary>
    /// Starts a new worker for the slot (a new generation) and waits until it is ready, then lets it take connections.
    /// It does not become the slot's current worker: the caller decides. Throws <see cref="WorkerFailedException"/>
    /// if the worker fails or is not ready within the startup timeout.
    /// </summary>
    private async Task<WorkerInstance> BootAsync(WorkerSlot slot, CancellationToken cancellationToken)
    {
        var options = Options;
        WorkerInstance worker;
        lock (_lock)
        {
            var generation = _generations[slot.Index] = _generations.GetValueOrDefault(slot.Index) + 1;
            var runtime = new WorkerRuntime(slot.Index, generation, _args, options.GracefulTimeout, _endpoints, _connectionFactory!, _logger, _timeProvider, this);
            if (options.MaxRequests > 0)
            {
                runtime.SetRequestLimit(options.MaxRequests + Random.Shared.NextInt64(0, options.MaxRequestsJitter + 1), OnRequestLimitReached);
            }

            worker = new WorkerInstance(runtime, _application, _sharedAssemblies!, _lifetimeLogger, _timeProvider);
            _live.Add(worker);
        }

        worker.Start();
        _ = Track(HandleExitAsync(slot, worker));

        Exception? failure;
        try
        {
            failure = await worker.WaitUntilReadyAsync(options.StartupTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Abandon(worker);
            throw;
        }

        if (failure is not null)
        {
            Log.WorkerFailedToStart(_logger, worker.Slot, worker.Generation, failure);
            Abandon(worker);
            throw new WorkerFailedException(worker.Slot, worker.Generation,
                $"Worker {worker.Slot} (generation {worker.Generation}) failed to start: {failure.Message}", failure);
        }

        worker.MarkReady();
        Log.WorkerReady(_lifetimeLogger, worker.Slot, worker.Generation, worker.StartDuration.TotalMilliseconds);
        return worker;
    }

    /// <summary>Stops a worker that will not serve (failed or cancelled start); it is cleaned up when it exits.</summary>
    private void Abandon(WorkerInstance worker)
        => _ = Track(worker.StopAsync(redirectConnections: true, Options.GracefulTimeout, CancellationToken.None));

    /// <summary>Drains and stops a worker that has been replaced or scaled away.</summary>
    private Task<bool> RetireAsync(WorkerInstance worker)
        => Track(worker.StopAsync(redirectConnections: true, Options.GracefulTimeout, CancellationToken.None));

    /// <summary>
    /// Replaces the slot's worker: the new one is booted and ready (and taking connections) before the old one drains.
    /// The caller holds the operation gate. Returns the old worker's drain.
    /// </summary>
    private async Task<Task> ReplaceAsync(WorkerSlot slot, CancellationToken cancellationToken)
    {
        var fresh = await BootAsync(slot, cancellationToken).ConfigureAwait(false);
        WorkerInstance? old;
        lock (_lock)
        {
            old = slot.Current;
            slot.Current = fresh;
        }

        return old is null ? Task.CompletedTask : RetireAsync(old);
    }

    private async Task RunReloadAsync(TaskCompletionSource<WorkerReloadResult> queued)
    {
        try
        {
            await _gate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_lock)
            {
                _queuedReload = null;
            }

            queued.TrySetResult(new WorkerReloadResult(false, 0, "The reload did not start: the workers are stopping."));
            return;
        }

        lock (_lock)
        {
            // From here on, a new request queues the next reload.
            _queuedReload = null;
        }

        queued.TrySetResult(await ReloadSlotsAsync().ConfigureAwait(false));
    }

    /// <summary>Replaces every slot's worker in turn. The caller holds the gate; this releases it.</summary>
    private async Task<WorkerReloadResult> ReloadSlotsAsync()
    {

        var started = _timeProvider.GetTimestamp();
        var replaced = 0;
        var drains = new List<Task>();
        try
        {
            WorkerSlot[] slots;
            lock (_lock)
            {
                slots = [.. _slots];
            }

            Log.ReloadStarting(_lifetimeLogger, slots.Length);
            foreach (var slot in slots)
            {
                lock (_lock)
                {
                    if (slot.Removed)
                    {
                        continue;
                    }
                }

                drains.Add(await ReplaceAsync(slot, _stopping.Token).ConfigureAwait(false));
                replaced++;
            }

            await Task.WhenAll(drains).ConfigureAwait(false);
            Log.ReloadCompleted(_lifetimeLogger, replaced, _timeProvider.GetElapsedTime(started).TotalMilliseconds);
            return new WorkerReloadResult(true, replaced, null);
        }
        catch (WorkerFailedException e)
        {
            Log.ReloadFailed(_lifetimeLogger, replaced, e.Message);
            return new WorkerReloadResult(false, replaced, e.Message);
        }
        catch (OperationCanceledException)
        {
            Log.ReloadFailed(_lifetimeLogger, replaced, "the workers are stopping");
            return new WorkerReloadResult(false, replaced, "The reload was cancelled: the workers are stopping.");
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ScaleCoreAsync(Func<int, int> target)
    {
        var drains = new List<Task>();
        try
        {
            await _gate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            int from;
            int to;
            WorkerSlot[] added = [];
            lock (_lock)
            {
                if (!_started)
                {
                    return;
                }

                from = _slots.Count;
                to = Math.Clamp(target(from), 1, WorkersOptionsValidator.MaxCount);
                if (to > from)
                {
                    added = [.. Enumerable.Range(from, to - from).Select(i => new WorkerSlot(i))];
                    _slots.AddRange(added);
                }
                else
                {
                    for (var i = from - 1; i >= to; i--)
                    {
                        var slot = _slots[i];
                        slot.Removed = true;
                        _slots.RemoveAt(i);
                        if (slot.Current is { } worker)
                        {
                            slot.Current = null;
                            drains.Add(RetireAsync(worker));
                        }
                    }
                }
            }

            if (from == to)
            {
                return;
            }

            Log.Scaling(_lifetimeLogger, from, to);
            foreach (var failure in await BootSlotsAsync(added, _stopping.Token).ConfigureAwait(false))
            {
                RecordFailure(failure);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return;
        }
        finally
        {
            _gate.Release();
        }

        // The removed workers drain outside the gate: a reload need not wait for them.
        await Task.WhenAll(drains).ConfigureAwait(false);
    }

    private void OnRequestLimitReached(WorkerRuntime runtime)
    {
        WorkerInstance? worker;
        lock (_lock)
        {
            worker = _live.FirstOrDefault(w => w.Runtime == runtime);
        }

        if (worker is not null)
        {
            _ = Track(RecycleAsync(worker));
        }
    }

    /// <summary>Replaces a worker that served its MaxRequests; the gate makes it one recycle at a time.</summary>
    private async Task RecycleAsync(WorkerInstance worker)
    {
        try
        {
            await _gate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            WorkerSlot? slot;
            lock (_lock)
            {
                slot = _slots.FirstOrDefault(s => s.Current == worker);
            }

            if (slot is null || worker.Retiring)
            {
                return;
            }

            Log.Recycling(_lifetimeLogger, worker.Slot, worker.Generation, worker.Runtime.RequestLimit);
            await ReplaceAsync(slot, _stopping.Token).ConfigureAwait(false);
        }
        catch (WorkerFailedException e)
        {
            // The old worker keeps serving; the failure is counted like any other.
            RecordFailure(e);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Runs when a worker's entry point has returned, for every worker: frees its slot, unloads it, and restarts the slot
    /// if the worker ended on its own.
    /// </summary>
    private async Task HandleExitAsync(WorkerSlot slot, WorkerInstance worker)
    {
        var exception = await worker.Runtime.Exited.ConfigureAwait(false);

        bool unplanned;
        bool restart;
        lock (_lock)
        {
            worker.ExitObserved = true;
            _live.Remove(worker);
            if (slot.Current == worker)
            {
                slot.Current = null;
            }

            unplanned = !worker.Retiring && worker.State == WorkerState.Ready;
            restart = unplanned && !worker.InProbation && !slot.Removed && !_stopping.IsCancellationRequested;
        }

        worker.Runtime.DeactivateListeners();
        if (unplanned && !_stopping.IsCancellationRequested)
        {
            Log.WorkerExitedUnexpectedly(_logger, worker.Slot, worker.Generation, exception);
        }

        var unloading = worker.Unload();
        worker.MarkCleanedUp();

        if (restart)
        {
            StartRestart(slot);
        }

        if (unloading is not null)
        {
            await _unloadVerifier.VerifyAsync([unloading]).ConfigureAwait(false);
        }
    }

    private void StartRestart(WorkerSlot slot)
    {
        lock (_lock)
        {
            if (slot.Restarting || slot.Removed || _stopping.IsCancellationRequested)
            {
                return;
            }

            slot.Restarting = true;
        }

        _ = Track(RestartSlotAsync(slot));
    }

    /// <summary>
    /// Restarts a slot through the restart pipeline. An attempt boots a worker and watches it for
    /// <see cref="WorkerRestartOptions.ResetAfter"/>: a worker that fails to start or ends within that time fails the
    /// attempt, and the pipeline retries after an exponential, jittered delay; one that serves that long ends the
    /// restart, so the slot's next failure starts from no delay.
    /// </summary>
    private async Task RestartSlotAsync(WorkerSlot slot)
    {
        try
        {
            await _restartPipeline!.ExecuteAsync(RestartAttemptAsync, slot, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested || _crashLooping)
        {
        }
        finally
        {
            lock (_lock)
            {
                slot.Restarting = false;
            }
        }
    }

    private async ValueTask RestartAttemptAsync(WorkerSlot slot, CancellationToken cancellationToken)
    {
        if (_crashLooping)
        {
            throw new OperationCanceledException("The workers are in a crash loop.");
        }

        WorkerInstance worker;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (slot.Removed || slot.Current is not null)
                {
                    // Scaled away, or filled by a reload meanwhile.
                    return;
                }
            }

            try
            {
                worker = await BootAsync(slot, cancellationToken).ConfigureAwait(false);
            }
            catch (WorkerFailedException e)
            {
                RecordFailure(e);
                throw;
            }

            lock (_lock)
            {
                slot.Current = worker;
                worker.InProbation = true;
            }
        }
        finally
        {
            _gate.Release();
        }

        Log.WorkerRestarted(_lifetimeLogger, worker.Slot, worker.Generation);

        var resetAfter = Options.Restart.ResetAfter;
        await Task.WhenAny(worker.CleanedUp, Task.Delay(resetAfter, _timeProvider, cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();

        bool failed;
        lock (_lock)
        {
            failed = worker.ExitObserved && !worker.Retiring;
            worker.InProbation = false;
        }

        if (failed)
        {
            await worker.CleanedUp.ConfigureAwait(false);
            var exception = await worker.Runtime.Exited.ConfigureAwait(false);
            var failure = new WorkerFailedException(worker.Slot, worker.Generation,
                $"Worker {worker.Slot} (generation {worker.Generation}) ended within {resetAfter} of starting.", exception);
            RecordFailure(failure);
            throw failure;
        }
    }

    /// <summary>Counts a failure; a crash loop ends the process with exit code 3, logging the last failure.</summary>
    private void RecordFailure(WorkerFailedException failure)
    {
        if (_crashLoop is null || !_crashLoop.RecordFailure())
        {
            return;
        }

        lock (_lock)
        {
            if (_crashLooping || _stopping.IsCancellationRequested)
            {
                return;
            }

            _crashLooping = true;
        }

        var restart = Options.Restart;
        Log.CrashLoop(_lifetimeLogger, restart.MaxFailures, restart.FailureWindow, WorkersExitCodes.CrashLoop, failure.InnerException ?? failure);
        Environment.ExitCode = WorkersExitCodes.CrashLoop;
        _lifetime.StopApplication();
    }

    /// <summary>Keeps a background task so that the stop awaits it; every task observes its own exceptions.</summary>
    private T Track<T>(T task)
        where T : Task
    {
        lock (_lock)
        {
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(task);
        }

        return task;
    }
}
