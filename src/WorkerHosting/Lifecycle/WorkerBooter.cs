using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Lifecycle;

/// <summary>
/// Boots workers: a new generation in a slot, ready (and taking connections) or failed within the startup timeout.
/// </summary>
internal sealed partial class WorkerBooter(
    WorkerSet set,
    Workers.IWorkerFactory factory,
    WorkerStopper stopper,
    ILifecycleEvents events,
    LifecycleHooks hooks,
    WorkersMetrics metrics,
    ILogger lifetimeLogger,
    TimeProvider timeProvider)
{
    /// <summary>
    /// Starts a new worker for the slot and waits until it is ready, then lets it take connections. It does not become the
    /// slot's current worker: the caller decides. A worker that fails is stopped, counted as a failure, and thrown as a
    /// <see cref="WorkerFailedException"/> (not logged: the caller does, once).
    /// </summary>
    public async Task<WorkerEntry> BootAsync(WorkerSlot slot, WorkersOptions options, CancellationToken cancellationToken)
    {
        var generation = set.NextGeneration(slot.Index);
        var handle = factory.Create(slot.Index, generation, options, events.OnRequestLimitReached);
        var worker = new WorkerEntry(handle, slot);
        set.Add(worker);
        events.OnCreated(worker);
        hooks.WorkerBooting(slot.Index, generation);

        var started = timeProvider.GetTimestamp();
        Exception? failure = null;
        string? errorType = null;
        try
        {
            handle.Start();
            await handle.Ready.WaitAsync(options.StartupTimeout, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Abandoned (the pool stops, or the slot's restart was cancelled): not a start that ended, so not measured.
            stopper.Stop(worker, WorkerExitReason.Stop, redirectConnections: true, options.GracefulTimeout);
            throw;
        }
        catch (TimeoutException) when (!handle.Ready.IsCompleted)
        {
            errorType = "timeout";
            failure = new TimeoutException(
                $"Worker {slot.Index} (generation {generation}) was not ready within the startup timeout ({options.StartupTimeout}). Raise Workers:StartupTimeout if the app needs longer to start.");
        }
        catch (Exception e)
        {
            failure = e;
        }

        if (failure is not null)
        {
            metrics.WorkerStarted(timeProvider.GetElapsedTime(started), errorType ?? failure.GetType().FullName);
            worker.StartFailure = failure;
            stopper.Stop(worker, WorkerExitReason.Failure, redirectConnections: true, options.GracefulTimeout);
            var exception = new WorkerFailedException(slot.Index, generation, started: false,
                $"Worker {slot.Index} (generation {generation}) failed to start: {failure.Message}", failure);
            events.OnFailed(exception);
            throw exception;
        }

        worker.State = WorkerState.Ready;
        worker.Served = true;
        handle.Activate();
        var elapsed = timeProvider.GetElapsedTime(started);
        metrics.WorkerStarted(elapsed, errorType: null);
        Log.WorkerReady(lifetimeLogger, slot.Index, generation, elapsed.TotalMilliseconds);
        hooks.WorkerReady(slot.Index, generation);
        return worker;
    }

    /// <summary>
    /// Replaces the slot's worker: the new one is booted and ready (and taking connections) before the old one is stopped.
    /// Returns the old worker, if there was one, stopped for <paramref name="reason"/>.
    /// </summary>
    public async Task<WorkerEntry?> ReplaceAsync(WorkerSlot slot, WorkerExitReason reason, WorkersOptions options, CancellationToken cancellationToken)
    {
        var fresh = await BootAsync(slot, options, cancellationToken).ConfigureAwait(false);
        var old = slot.Current;
        slot.Current = fresh;
        if (old is not null)
        {
            stopper.Stop(old, reason, redirectConnections: true, options.GracefulTimeout);
        }

        return old;
    }

    /// <summary>
    /// Boots a worker in each slot at once. A slot whose worker starts serves; one whose worker fails is logged (once,
    /// here) and restarts, unless none started and <paramref name="allFailedIsFatal"/> is set: then the failures are only returned, for
    /// the caller to report. Returns the failures.
    /// </summary>
    public async Task<WorkerFailedException[]> StartSlotsAsync(WorkerSlot[] slots, WorkersOptions options, bool allFailedIsFatal, CancellationToken cancellationToken)
    {
        var boots = slots.Select(slot => BootAsync(slot, options, cancellationToken)).ToArray();
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
                slots[i].Current = boots[i].Result;
                if (slots[i].State == WorkerSlotState.Starting)
                {
                    slots[i].State = WorkerSlotState.Serving;
                }
            }
            else if (boots[i].Exception?.InnerException is WorkerFailedException failure)
            {
                failures.Add(failure);
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (!allFailedIsFatal || failures.Count < slots.Length)
        {
            foreach (var failure in failures)
            {
                Log.WorkerFailedToStart(lifetimeLogger, failure.Slot, failure.Generation, failure.InnerException!);
                events.OnSlotFailed(slots.First(s => s.Index == failure.Slot));
            }
        }

        return [.. failures];
    }

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.WorkerReady, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) is ready in {ElapsedMilliseconds:F0} ms.", EventName = "WorkerReady")]
        public static partial void WorkerReady(ILogger logger, int workerSlot, int generation, double elapsedMilliseconds);

        [LoggerMessage(WorkersEventIds.WorkerFailedToStart, LogLevel.Error,
            "Worker {WorkerSlot} (generation {Generation}) failed to start; its slot restarts.", EventName = "WorkerFailedToStart")]
        public static partial void WorkerFailedToStart(ILogger logger, int workerSlot, int generation, Exception exception);
    }
}
