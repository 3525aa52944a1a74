using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using WorkerHosting.Configuration;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Lifecycle;

/// <summary>
/// Delivers the pool's lifecycle events to the app's <see cref="IWorkerLifecycleObserver"/>s, in the order the control loop
/// raised them, one call at a time, on a flow of its own: raising an event only queues it, so app code never holds the
/// loop. Each call is bounded by <see cref="WorkersDefaults.HookTimeout"/>: one that throws or runs late is logged and the
/// next one runs, so a hook that hangs delays only the hooks after it.
/// </summary>
internal sealed partial class LifecycleHooks
{
    private readonly Channel<Hook> _queue = Channel.CreateUnbounded<Hook>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<IEnumerable<IWorkerLifecycleObserver>> _observers;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private Task? _completion;

    /// <param name="observers">Resolves the observers, on the first event (not before: an observer may depend on the pool).</param>
    /// <param name="logger">Where failed and late calls are logged.</param>
    /// <param name="timeProvider">Times each call.</param>
    public LifecycleHooks(Func<IEnumerable<IWorkerLifecycleObserver>> observers, ILogger logger, TimeProvider timeProvider)
    {
        _observers = observers;
        _logger = logger;
        _timeProvider = timeProvider;
    }

    /// <summary>Completes when every event raised before <see cref="Complete"/> has been delivered.</summary>
    public Task Completion => _completion ?? Task.CompletedTask;

    /// <summary>Starts delivering events, on a flow of its own.</summary>
    public void Run()
    {
        using (ExecutionContext.SuppressFlow())
        {
            _completion = Task.Run(DeliverAsync);
        }
    }

    /// <summary>No more events: <see cref="Completion"/> completes once the queued ones are delivered.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    public void PoolStarting(int count)
        => Raise(nameof(IWorkerLifecycleObserver.OnPoolStartingAsync), new WorkerPoolEvent { Count = count }, static (o, e, t) => o.OnPoolStartingAsync(e, t));

    public void PoolReady(int count, int readyCount)
        => Raise(nameof(IWorkerLifecycleObserver.OnPoolReadyAsync), new WorkerPoolEvent { Count = count, ReadyCount = readyCount }, static (o, e, t) => o.OnPoolReadyAsync(e, t));

    public void WorkerBooting(int slot, int generation)
        => Raise(nameof(IWorkerLifecycleObserver.OnWorkerBootingAsync), new WorkerEvent { Slot = slot, Generation = generation }, static (o, e, t) => o.OnWorkerBootingAsync(e, t));

    public void WorkerReady(int slot, int generation)
        => Raise(nameof(IWorkerLifecycleObserver.OnWorkerReadyAsync), new WorkerEvent { Slot = slot, Generation = generation }, static (o, e, t) => o.OnWorkerReadyAsync(e, t));

    public void WorkerExited(WorkerExitedEvent exited)
        => Raise(nameof(IWorkerLifecycleObserver.OnWorkerExitedAsync), exited, static (o, e, t) => o.OnWorkerExitedAsync(e, t));

    public void ReloadStarting(int count, int readyCount)
        => Raise(nameof(IWorkerLifecycleObserver.OnReloadStartingAsync), new WorkerPoolEvent { Count = count, ReadyCount = readyCount }, static (o, e, t) => o.OnReloadStartingAsync(e, t));

    public void ReloadEnded(WorkerReloadResult result)
        => Raise(nameof(IWorkerLifecycleObserver.OnReloadEndedAsync), result, static (o, e, t) => o.OnReloadEndedAsync(e, t));

    public void CountChanged(int previousCount, int count)
        => Raise(nameof(IWorkerLifecycleObserver.OnCountChangedAsync), new WorkerCountChangedEvent { PreviousCount = previousCount, Count = count }, static (o, e, t) => o.OnCountChangedAsync(e, t));

    public void PoolStopping(int count, int readyCount)
        => Raise(nameof(IWorkerLifecycleObserver.OnPoolStoppingAsync), new WorkerPoolEvent { Count = count, ReadyCount = readyCount }, static (o, e, t) => o.OnPoolStoppingAsync(e, t));

    public void PoolStopped(int count)
        => Raise(nameof(IWorkerLifecycleObserver.OnPoolStoppedAsync), new WorkerPoolEvent { Count = count }, static (o, e, t) => o.OnPoolStoppedAsync(e, t));

    private void Raise<T>(string name, T argument, Func<IWorkerLifecycleObserver, T, CancellationToken, Task> invoke)
        => _queue.Writer.TryWrite(new Hook(name, (observer, cancellationToken) => invoke(observer, argument, cancellationToken)));

    private async Task DeliverAsync()
    {
        IWorkerLifecycleObserver[]? observers = null;
        await foreach (var hook in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            observers ??= Resolve();
            foreach (var observer in observers)
            {
                await InvokeAsync(observer, hook).ConfigureAwait(false);
            }
        }
    }

    private IWorkerLifecycleObserver[] Resolve()
    {
        try
        {
            return [.. _observers()];
        }
        catch (Exception e)
        {
            Log.HookObserversUnavailable(_logger, e);
            return [];
        }
    }

    private async Task InvokeAsync(IWorkerLifecycleObserver observer, Hook hook)
    {
        var timeout = WorkersDefaults.HookTimeout;
        using var deadline = new CancellationTokenSource(timeout, _timeProvider);

        // On the thread pool, so that a hook that blocks before it returns its task is bounded as one that awaits.
        var call = Task.Run(() => hook.Invoke(observer, deadline.Token) ?? Task.CompletedTask, CancellationToken.None);
        try
        {
            await call.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Log.HookTimedOut(_logger, hook.Name, observer.GetType().FullName, timeout);

            // Left to finish on its own (nothing can stop it); what it throws then is observed here, not raised.
            _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        catch (Exception e)
        {
            Log.HookFailed(_logger, hook.Name, observer.GetType().FullName, e);
        }
    }

    private sealed record Hook(string Name, Func<IWorkerLifecycleObserver, CancellationToken, Task> Invoke);

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.HookFailed, LogLevel.Warning,
            "The lifecycle hook {Hook} of {Observer} threw; the pool goes on, and the next hook runs.", EventName = "HookFailed")]
        public static partial void HookFailed(ILogger logger, string hook, string? observer, Exception exception);

        [LoggerMessage(WorkersEventIds.HookTimedOut, LogLevel.Warning,
            "The lifecycle hook {Hook} of {Observer} did not complete within {Timeout}; its token is cancelled, and the next hook runs without waiting for it.",
            EventName = "HookTimedOut")]
        public static partial void HookTimedOut(ILogger logger, string hook, string? observer, TimeSpan timeout);

        [LoggerMessage(WorkersEventIds.HookObserversUnavailable, LogLevel.Error,
            "The lifecycle observers (IWorkerLifecycleObserver) could not be created; no lifecycle hook will run.", EventName = "HookObserversUnavailable")]
        public static partial void HookObserversUnavailable(ILogger logger, Exception exception);
    }
}
