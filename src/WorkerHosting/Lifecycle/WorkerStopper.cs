using WorkerHosting.Configuration;

namespace WorkerHosting.Lifecycle;

/// <summary>
/// Asks workers to stop and gives each a deadline to exit: its graceful timeout, plus <see cref="WorkersDefaults.ExitMargin"/>
/// for its server to abort what is left and its host to dispose. A worker still running then is given up by the loop.
/// </summary>
internal sealed class WorkerStopper(TimeProvider timeProvider, ILifecycleEvents events)
{
    /// <summary>Stops the worker, once, for <paramref name="reason"/>; later calls for the same worker do nothing.</summary>
    public void Stop(WorkerEntry worker, WorkerExitReason reason, bool redirectConnections, TimeSpan gracefulTimeout)
    {
        if (worker.StopStartedAt != 0)
        {
            return;
        }

        worker.State = WorkerState.Draining;
        worker.StopReason = reason;
        worker.StopStartedAt = Math.Max(1, timeProvider.GetTimestamp());
        worker.ExitDeadline = timeProvider.CreateTimer(
            static state =>
            {
                var (events, worker) = ((ILifecycleEvents, WorkerEntry))state!;
                events.OnExitDeadline(worker);
            },
            (events, worker),
            gracefulTimeout + WorkersDefaults.ExitMargin,
            Timeout.InfiniteTimeSpan);
        events.Track(worker.Handle.StopAsync(redirectConnections, gracefulTimeout));
    }
}
