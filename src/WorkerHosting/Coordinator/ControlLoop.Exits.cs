using Polly;
using WorkerHosting.Lifecycle;
using WorkerHosting.Workers;

namespace WorkerHosting.Coordinator;

internal sealed partial class ControlLoop
{
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
        if (worker.StopStartedAt != 0)
        {
            _metrics.WorkerDrained(_timeProvider.GetElapsedTime(worker.StopStartedAt));
        }

        if (tracked)
        {
            // One given up was counted (and reported to the hooks) then.
            _metrics.WorkerExited(ExitReason(worker));
            _hooks.WorkerExited(new WorkerExitedEvent
            {
                Slot = handle.Slot,
                Generation = handle.Generation,
                Reason = ExitReason(worker),
                Exception = exception ?? worker.StartFailure,
                RequestsServed = handle.RequestsServed,
            });
        }

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
        EndReloadsDone();
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

        var waited = _timeProvider.GetElapsedTime(worker.StopStartedAt);
        Log.WorkerDidNotExit(_lifetimeLogger, worker.Handle.Slot, worker.Handle.Generation, waited);
        _metrics.WorkerExited(ExitReason(worker));
        _hooks.WorkerExited(new WorkerExitedEvent
        {
            Slot = worker.Handle.Slot,
            Generation = worker.Handle.Generation,
            Reason = ExitReason(worker),
            Exception = worker.StartFailure,
            RequestsServed = worker.Handle.RequestsServed,
            GivenUp = true,
        });
        if (worker.Handle.GiveUp(waited) is { } kept)
        {
            // Counted and listed with the leaked workers (GetLeakedWorkers, Workers:MaxLeakedWorkers).
            Track(_unloadVerifier.VerifyAsync([kept]));
        }

        worker.MarkGone();
        EndReloadsDone();
        CompleteStopIfDone();
    }

    private void BeginStop(WorkerCommand.Stop command)
    {
        _stop = command;
        _stopStartedAt = _timeProvider.GetTimestamp();
        var workers = _set.Workers;
        _stopCount = workers.Length;
        Log.WorkersDraining(_lifetimeLogger, workers.Length, command.GracefulTimeout);
        _hooks.PoolStopping(_set.Count, ReadyCount());
        foreach (var worker in workers)
        {
            _stopper.Stop(worker, WorkerExitReason.Stop, redirectConnections: false, command.GracefulTimeout);
        }

        CompleteStopIfDone();
    }

    /// <summary>Ends the reloads whose replaced workers have all gone: their hook, then their reply.</summary>
    private void EndReloadsDone()
    {
        for (var i = 0; i < _reloadsEnding.Count; i++)
        {
            var ending = _reloadsEnding[i];
            ending.Waiting.RemoveAll(w => w.Gone.IsCompleted);
            if (ending.Waiting.Count == 0)
            {
                _reloadsEnding.RemoveAt(i--);
                _hooks.ReloadEnded(ending.Result);
                ending.Reply.TrySetResult(ending.Result);
            }
        }
    }

    private int ReadyCount() => _set.Workers.Count(w => w.State == WorkerState.Ready);

    /// <summary>Why the worker was stopped; one that ended unasked failed.</summary>
    private static WorkerExitReason ExitReason(WorkerEntry worker) => worker.StopStartedAt != 0 ? worker.StopReason : WorkerExitReason.Failure;

    private void CompleteStopIfDone()
    {
        if (_stop is null || _set.WorkerCount != 0)
        {
            return;
        }

        Log.WorkersStopped(_lifetimeLogger, _stopCount, _timeProvider.GetElapsedTime(_stopStartedAt).TotalMilliseconds);
        _hooks.PoolStopped(_set.Count);
        _ended = true;
        _stop.Reply.TrySetResult();
    }

    /// <summary>A reload whose new workers serve, waiting for the workers it replaced to go.</summary>
    private sealed class ReloadEnding(WorkerReloadResult result, List<WorkerEntry> waiting, TaskCompletionSource<WorkerReloadResult> reply)
    {
        public WorkerReloadResult Result { get; } = result;

        public List<WorkerEntry> Waiting { get; } = waiting;

        public TaskCompletionSource<WorkerReloadResult> Reply { get; } = reply;
    }
}
