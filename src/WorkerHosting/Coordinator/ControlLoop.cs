using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Polly;
using WorkerHosting.Diagnostics;
using WorkerHosting.Lifecycle;
using WorkerHosting.Workers;

namespace WorkerHosting.Coordinator;

/// <summary>
/// The one owner of the workers' state. It reads commands from a channel and applies them one at a time: start, reload,
/// scale, recycle, a worker that exited, a restart's attempt, new options, stop. Operations (in Lifecycle) run inside it, so
/// they never interleave; what runs beside it (restarts backing off, workers' requests, timers) only posts commands.
/// </summary>
/// <remarks>
/// A long operation (a reload boots workers one after another) holds the loop: commands that arrive meanwhile wait their
/// turn. Stopping does not wait: it cancels what runs (a boot is abandoned), then the stop command drains every worker.
/// </remarks>
internal sealed partial class ControlLoop : ILifecycleEvents, IDisposable
{
    private readonly Channel<WorkerCommand> _commands = Channel.CreateUnbounded<WorkerCommand>(new UnboundedChannelOptions { SingleReader = true });
    private readonly WorkerSet _set = new();
    private readonly WorkerStopper _stopper;
    private readonly WorkerBooter _booter;
    private readonly LifecycleHooks _hooks;
    private readonly UnloadVerifier _unloadVerifier;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly WorkersMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ILogger _lifetimeLogger;
    private readonly TimeProvider _timeProvider;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly List<Task> _background = [];
    private readonly List<ReloadEnding> _reloadsEnding = [];

    private WorkersOptions _options;
    private ResiliencePipeline _restartPipeline;
    private CrashLoopDetector _crashLoop;
    private TaskCompletionSource<WorkerReloadResult>? _pendingReload;
    private WorkerCommand.Stop? _stop;
    private long _stopStartedAt;
    private int _stopCount;
    private bool _crashLooping;
    private bool _ended;
    private Task? _completion;

    public ControlLoop(
        WorkersOptions options,
        IWorkerFactory factory,
        Func<IEnumerable<IWorkerLifecycleObserver>> observers,
        IHostApplicationLifetime lifetime,
        WorkersMetrics metrics,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider)
    {
        _options = options;
        _metrics = metrics;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger<ControlLoop>();
        _lifetimeLogger = loggerFactory.CreateLogger(WorkersLogCategories.Lifetime);
        _timeProvider = timeProvider;
        _stopper = new WorkerStopper(timeProvider, this);
        _hooks = new LifecycleHooks(observers, loggerFactory.CreateLogger<LifecycleHooks>(), timeProvider);
        _booter = new WorkerBooter(_set, factory, _stopper, this, _hooks, metrics, _lifetimeLogger, timeProvider);
        _unloadVerifier = new UnloadVerifier(_lifetimeLogger, loggerFactory.CreateLogger<UnloadVerifier>(), timeProvider, () => Options.MaxLeakedWorkers, () => Options.ReleaseLeftovers);
        metrics.Observe(_set, _unloadVerifier);
        (_restartPipeline, _crashLoop) = BuildRestart(options.Restart);
    }

    /// <summary>The options operations and new workers use now.</summary>
    public WorkersOptions Options => Volatile.Read(ref _options);

    public WorkerSet Set => _set;

    public UnloadVerifier UnloadVerifier => _unloadVerifier;

    /// <summary>Delivers the lifecycle events the loop raises to the app's observers.</summary>
    public LifecycleHooks Hooks => _hooks;

    /// <summary>Completes when the loop has ended (after a stop).</summary>
    public Task Completion => _completion ?? Task.CompletedTask;

    public bool IsRunning => _completion is not null;

    /// <summary>Starts reading commands, on a flow of its own.</summary>
    public void Run()
    {
        using (ExecutionContext.SuppressFlow())
        {
            _hooks.Run();
            _completion = Task.Run(RunAsync);
        }
    }

    /// <summary>Cancels what runs now (a boot, a reload, restarts): the workers are stopping. The stop command follows.</summary>
    public void CancelOperations() => _stopping.Cancel();

    /// <summary>Posts a command; one the loop will never apply is cancelled at once.</summary>
    public void Post(WorkerCommand command)
    {
        if (!_commands.Writer.TryWrite(command))
        {
            command.Cancel();
        }
    }

    /// <summary>Asks for a reload; asks made while one waits to start share it.</summary>
    public Task<WorkerReloadResult> RequestReload()
    {
        TaskCompletionSource<WorkerReloadResult> reply;
        lock (_lock)
        {
            if (_pendingReload is { } pending)
            {
                return pending.Task;
            }

            reply = _pendingReload = new TaskCompletionSource<WorkerReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        Post(new WorkerCommand.Reload(reply));
        return reply.Task;
    }

    /// <summary>The background tasks the stop awaits (restarts, drains, unload verifications).</summary>
    public Task[] Background()
    {
        lock (_lock)
        {
            return [.. _background];
        }
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RunAsync()
    {
        var reader = _commands.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var command))
            {
                try
                {
                    await ApplyAsync(command).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    Log.CommandFailed(_logger, command.GetType().Name, e);
                    command.Cancel();
                }

                if (_ended)
                {
                    _commands.Writer.TryComplete();
                    while (reader.TryRead(out var left))
                    {
                        left.Cancel();
                    }

                    return;
                }
            }
        }
    }

    private Task ApplyAsync(WorkerCommand command) => command switch
    {
        WorkerCommand.Start start => StartWorkersAsync(start),
        WorkerCommand.Reload reload => ReloadAsync(reload),
        WorkerCommand.Scale scale => ScaleAsync(scale),
        WorkerCommand.Recycle recycle => RecycleAsync(recycle),
        WorkerCommand.RestartAttempt attempt => RestartAttemptAsync(attempt),
        WorkerCommand.Exited exited => Sync(OnExited, exited),
        WorkerCommand.ExitDeadline deadline => Sync(OnExitDeadlinePassed, deadline.Worker),
        WorkerCommand.RestartEnded ended => Sync(OnRestartEnded, ended.Slot),
        WorkerCommand.ChangeOptions change => Sync(ChangeOptions, change.Options),
        WorkerCommand.Stop stop => Sync(BeginStop, stop),
        _ => throw new InvalidOperationException($"Unknown command '{command.GetType().Name}'."),
    };

    private static Task Sync<T>(Action<T> apply, T argument)
    {
        apply(argument);
        return Task.CompletedTask;
    }

    private async Task StartWorkersAsync(WorkerCommand.Start command)
    {
        var options = Options;
        _hooks.PoolStarting(options.Count);
        var slots = _set.Grow(options.Count);
        WorkerFailedException[] failures;
        try
        {
            failures = await _booter.StartSlotsAsync(slots, options, allFailedIsFatal: true, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            command.Reply.TrySetCanceled();
            return;
        }

        if (failures.Length == slots.Length)
        {
            // Every distinct failure, in one exception: the host reports it.
            var reasons = string.Join(" ", failures.Select(f => $"{f.Message}{(f.Message.EndsWith('.') ? "" : ".")}"));
            command.Reply.TrySetException(new InvalidOperationException(
                $"None of the {slots.Length} workers could start. {reasons}", new AggregateException(failures.Select(f => f.InnerException ?? f))));
            return;
        }

        // The reference for estimating what a worker that stays alive after unloading holds.
        _unloadVerifier.RecordLiveHeap();
        _hooks.PoolReady(_set.Count, ReadyCount());
        command.Reply.TrySetResult();
    }

    private async Task ReloadAsync(WorkerCommand.Reload command)
    {
        lock (_lock)
        {
            // From here on, a new request queues the next reload.
            if (_pendingReload == command.Reply)
            {
                _pendingReload = null;
            }
        }

        if (_stopping.IsCancellationRequested)
        {
            command.Cancel();
            return;
        }

        _hooks.ReloadStarting(_set.Count, ReadyCount());
        var (result, replaced) = await RollingReload.RunAsync(_set, _booter, Options, _metrics, _lifetimeLogger, _timeProvider, _stopping.Token).ConfigureAwait(false);

        // It ends when the workers it replaced have gone (the loop sees each go), so its end follows their exits.
        var ending = new ReloadEnding(result, [.. replaced.Where(w => !w.Gone.IsCompleted)], command.Reply);
        _reloadsEnding.Add(ending);
        EndReloadsDone();
    }

    private async Task ScaleAsync(WorkerCommand.Scale command)
    {
        if (_stopping.IsCancellationRequested)
        {
            command.Cancel();
            return;
        }

        try
        {
            var ended = await WorkerScaler.RunAsync(_set, _booter, _stopper, _hooks, command.Target(_set.Count), Options, _lifetimeLogger, _stopping.Token).ConfigureAwait(false);
            Track(ForwardAsync(ended, command.Reply));
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            command.Cancel();
        }
    }

    private async Task RecycleAsync(WorkerCommand.Recycle command)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        try
        {
            await WorkerRecycler.RunAsync(_set, _booter, command.Worker, Options, _lifetimeLogger, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private static async Task ForwardAsync(Task completion, TaskCompletionSource reply)
    {
        await completion.ConfigureAwait(false);
        reply.TrySetResult();
    }

    private void Track(Task task)
    {
        lock (_lock)
        {
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(task);
        }
    }

    void ILifecycleEvents.Track(Task task) => Track(task);

    void ILifecycleEvents.OnCreated(WorkerEntry worker)
        => worker.Handle.Exited.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(() => Post(new WorkerCommand.Exited(worker, worker.Handle.ExitPlanned)));

    void ILifecycleEvents.OnFailed(WorkerFailedException failure) => RecordFailure(failure);

    void ILifecycleEvents.OnSlotFailed(WorkerSlot slot) => StartRestart(slot);

    void ILifecycleEvents.OnRequestLimitReached(IWorkerHandle worker)
    {
        // From the worker's request: nothing of its flow goes along.
        if (ExecutionContext.IsFlowSuppressed())
        {
            Post(new WorkerCommand.Recycle(worker));
            return;
        }

        using (ExecutionContext.SuppressFlow())
        {
            Post(new WorkerCommand.Recycle(worker));
        }
    }

    void ILifecycleEvents.OnExitDeadline(WorkerEntry worker) => Post(new WorkerCommand.ExitDeadline(worker));
}
