using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Polly;
using WorkerHosting.Configuration;
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
    private readonly UnloadVerifier _unloadVerifier;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly ILogger _lifetimeLogger;
    private readonly TimeProvider _timeProvider;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly List<Task> _background = [];

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

    public ControlLoop(WorkersOptions options, IWorkerFactory factory, IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        _options = options;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger<ControlLoop>();
        _lifetimeLogger = loggerFactory.CreateLogger(WorkersLogCategories.Lifetime);
        _timeProvider = timeProvider;
        _stopper = new WorkerStopper(timeProvider, this);
        _booter = new WorkerBooter(_set, factory, _stopper, this, _lifetimeLogger, timeProvider);
        _unloadVerifier = new UnloadVerifier(_lifetimeLogger, loggerFactory.CreateLogger<UnloadVerifier>(), timeProvider, () => Options.MaxLeakedWorkers, () => Options.ReleaseLeftovers);
        (_restartPipeline, _crashLoop) = BuildRestart(options.Restart);
    }

    /// <summary>The options operations and new workers use now.</summary>
    public WorkersOptions Options => Volatile.Read(ref _options);

    public WorkerSet Set => _set;

    public UnloadVerifier UnloadVerifier => _unloadVerifier;

    /// <summary>Completes when the loop has ended (after a stop).</summary>
    public Task Completion => _completion ?? Task.CompletedTask;

    public bool IsRunning => _completion is not null;

    /// <summary>Starts reading commands, on a flow of its own.</summary>
    public void Run()
    {
        using (ExecutionContext.SuppressFlow())
        {
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

        var completion = await RollingReload.RunAsync(_set, _booter, Options, _lifetimeLogger, _timeProvider, _stopping.Token).ConfigureAwait(false);
        Track(ForwardAsync(completion, command.Reply));
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
            var ended = await WorkerScaler.RunAsync(_set, _booter, _stopper, command.Target(_set.Count), Options, _lifetimeLogger, _stopping.Token).ConfigureAwait(false);
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

    private async Task RestartAttemptAsync(WorkerCommand.RestartAttempt command)
    {
        var slot = command.Slot;
        if (command.CancellationToken.IsCancellationRequested || _stopping.IsCancellationRequested)
        {
            command.Reply.TrySetCanceled();
            return;
        }

        if (slot.Current is { } current && current.Handle.Exited.IsCompleted)
        {
            // Ended, and the restart saw it before this loop did: the slot is empty.
            slot.Current = null;
        }

        if (slot.State == WorkerSlotState.Removed || slot.Current is not null)
        {
            // Scaled away, or filled by a reload meanwhile.
            command.Reply.TrySetResult(null);
            return;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(command.CancellationToken, _stopping.Token);
        try
        {
            var worker = await _booter.BootAsync(slot, Options, linked.Token).ConfigureAwait(false);
            slot.Current = worker;
            Log.WorkerRestarted(_lifetimeLogger, worker.Handle.Slot, worker.Handle.Generation);
            command.Reply.TrySetResult(worker);
        }
        catch (WorkerFailedException e)
        {
            command.Reply.TrySetException(e);
        }
        catch (OperationCanceledException)
        {
            command.Reply.TrySetCanceled();
        }
    }

    private void OnExited(WorkerCommand.Exited exited)
    {
        var worker = exited.Worker;
        worker.ExitDeadline?.Dispose();
        worker.ExitDeadline = null;
        var tracked = _set.Remove(worker);
        var slot = worker.Slot;
        var wasCurrent = slot.Current == worker;
        if (wasCurrent)
        {
            slot.Current = null;
        }

        var handle = worker.Handle;
        var exception = handle.Exited.Result;
        var planned = exited.Planned;
        if (planned)
        {
            Log.WorkerStopped(_lifetimeLogger, handle.Slot, handle.Generation, _timeProvider.GetElapsedTime(worker.StopStartedAt).TotalMilliseconds, handle.RequestsServed);
        }
        else if (worker.Served && !_stopping.IsCancellationRequested)
        {
            // (One that ends while it starts is reported by its boot, as a failure to start.)
            Log.WorkerExitedUnexpectedly(_logger, handle.Slot, handle.Generation, exception);
        }

        if (!tracked)
        {
            Log.WorkerExitedAfterGivenUp(_lifetimeLogger, handle.Slot, handle.Generation);
        }

        if (handle.Unload() is { } unloading)
        {
            Track(_unloadVerifier.VerifyAsync([unloading]));
        }

        if (!planned && worker.Served && !_stopping.IsCancellationRequested)
        {
            if (wasCurrent && slot.State == WorkerSlotState.Serving)
            {
                StartRestart(slot);
            }
            else if (slot.State == WorkerSlotState.Restarting)
            {
                // The restart watching it fails its attempt; the failure counts here, once.
                RecordFailure(new WorkerFailedException(handle.Slot, handle.Generation, started: true,
                    $"Worker {handle.Slot} (generation {handle.Generation}) ended within {Options.Restart.ResetAfter} of starting.", exception));
            }
        }

        worker.MarkGone();
        CompleteStopIfDone();
    }

    private void OnExitDeadlinePassed(WorkerEntry worker)
    {
        worker.ExitDeadline?.Dispose();
        worker.ExitDeadline = null;
        if (worker.Handle.Exited.IsCompleted || !_set.Remove(worker))
        {
            return;
        }

        if (worker.Slot.Current == worker)
        {
            worker.Slot.Current = null;
        }

        Log.WorkerDidNotExit(_lifetimeLogger, worker.Handle.Slot, worker.Handle.Generation, _timeProvider.GetElapsedTime(worker.StopStartedAt));
        worker.MarkGone();
        CompleteStopIfDone();
    }

    private void StartRestart(WorkerSlot slot)
    {
        if (_crashLooping || _stopping.IsCancellationRequested || slot.State == WorkerSlotState.Removed)
        {
            return;
        }

        slot.State = WorkerSlotState.Restarting;
        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        slot.RestartCancellation = cancellation;
        Track(RunRestartAsync(slot, _restartPipeline, Options.Restart.ResetAfter, cancellation.Token));
    }

    private async Task RunRestartAsync(WorkerSlot slot, ResiliencePipeline pipeline, TimeSpan resetAfter, CancellationToken cancellationToken)
    {
        try
        {
            await SlotRestart.RunAsync(pipeline, slot, AttemptAsync, resetAfter, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or WorkerFailedException)
        {
            // Cancelled (a stop, a crash loop, a scale-down): the failure, if any, was counted and logged.
        }
        finally
        {
            Post(new WorkerCommand.RestartEnded(slot));
        }
    }

    private Task<WorkerEntry?> AttemptAsync(WorkerSlot slot, CancellationToken cancellationToken)
    {
        var attempt = new WorkerCommand.RestartAttempt(slot, cancellationToken);
        Post(attempt);
        return attempt.Reply.Task;
    }

    private void OnRestartEnded(WorkerSlot slot)
    {
        slot.RestartCancellation?.Dispose();
        slot.RestartCancellation = null;
        if (slot.State == WorkerSlotState.Restarting && slot.Current is not null)
        {
            slot.State = WorkerSlotState.Serving;
        }
    }

    private void ChangeOptions(WorkersOptions options)
    {
        var previous = Options;
        Volatile.Write(ref _options, options);
        if (!SameRestart(previous.Restart, options.Restart))
        {
            // Restarts under way keep the pipeline they began with.
            (_restartPipeline, _crashLoop) = BuildRestart(options.Restart);
        }
    }

    private void BeginStop(WorkerCommand.Stop command)
    {
        _stop = command;
        _stopStartedAt = _timeProvider.GetTimestamp();
        var workers = _set.Workers;
        _stopCount = workers.Length;
        Log.WorkersDraining(_lifetimeLogger, workers.Length, command.GracefulTimeout);
        foreach (var worker in workers)
        {
            _stopper.Stop(worker, redirectConnections: false, command.GracefulTimeout);
        }

        CompleteStopIfDone();
    }

    private void CompleteStopIfDone()
    {
        if (_stop is null || _set.WorkerCount != 0)
        {
            return;
        }

        Log.WorkersStopped(_lifetimeLogger, _stopCount, _timeProvider.GetElapsedTime(_stopStartedAt).TotalMilliseconds);
        _ended = true;
        _stop.Reply.TrySetResult();
    }

    /// <summary>Counts a failure; a crash loop ends the process with exit code 3, logging the last failure.</summary>
    private void RecordFailure(WorkerFailedException failure)
    {
        if (!_crashLoop.RecordFailure() || _crashLooping || _stopping.IsCancellationRequested)
        {
            return;
        }

        _crashLooping = true;
        foreach (var slot in _set.Slots)
        {
            slot.RestartCancellation?.Cancel();
        }

        var restart = Options.Restart;
        Log.CrashLoop(_lifetimeLogger, restart.MaxFailures, restart.FailureWindow, WorkersExitCodes.CrashLoop, failure);
        Environment.ExitCode = WorkersExitCodes.CrashLoop;
        _lifetime.StopApplication();
    }

    private (ResiliencePipeline, CrashLoopDetector) BuildRestart(WorkerRestartOptions restart)
        => (RestartPolicy.Create(restart, _timeProvider, _lifetimeLogger), new CrashLoopDetector(restart.MaxFailures, restart.FailureWindow, _timeProvider));

    private static bool SameRestart(WorkerRestartOptions a, WorkerRestartOptions b)
        => a.Delay == b.Delay && a.MaxDelay == b.MaxDelay && a.UseJitter == b.UseJitter && a.ResetAfter == b.ResetAfter
            && a.MaxFailures == b.MaxFailures && a.FailureWindow == b.FailureWindow;

    private static async Task ForwardAsync<T>(Task<T> completion, TaskCompletionSource<T> reply)
        => reply.TrySetResult(await completion.ConfigureAwait(false));

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
