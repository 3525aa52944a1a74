using Polly;
using WorkerHosting.Lifecycle;

namespace WorkerHosting.Coordinator;

internal sealed partial class ControlLoop
{
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
}
