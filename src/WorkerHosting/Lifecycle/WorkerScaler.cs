using Microsoft.Extensions.Logging;
using WorkerHosting.Configuration;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Lifecycle;

/// <summary>
/// Changes the worker count: new workers start in new slots at once; the highest slots are removed, their restarts
/// cancelled and their workers drained.
/// </summary>
internal static partial class WorkerScaler
{
    /// <summary>
    /// Runs the change on the control loop: returns once the new workers are ready (or failed, and restart) and the removed
    /// ones are stopping, with a task that completes when the removed workers have ended.
    /// </summary>
    public static async Task<Task> RunAsync(
        WorkerSet set, WorkerBooter booter, WorkerStopper stopper, LifecycleHooks hooks, int count, WorkersOptions options, ILogger lifetimeLogger, CancellationToken cancellationToken)
    {
        var from = set.Count;
        var to = Math.Clamp(count, 1, WorkersOptionsValidator.MaxCount);
        if (from == to)
        {
            return Task.CompletedTask;
        }

        Log.Scaling(lifetimeLogger, from, to);
        hooks.CountChanged(from, to);
        if (to > from)
        {
            await booter.StartSlotsAsync(set.Grow(to), options, allFailedIsFatal: false, cancellationToken).ConfigureAwait(false);
            return Task.CompletedTask;
        }

        var ended = new List<Task>();
        foreach (var slot in set.Shrink(to))
        {
            slot.RestartCancellation?.Cancel();
            if (slot.Current is { } worker)
            {
                slot.Current = null;
                stopper.Stop(worker, WorkerExitReason.Scale, redirectConnections: true, options.GracefulTimeout);
                ended.Add(worker.Gone);
            }
        }

        return Task.WhenAll(ended);
    }

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.Scaling, LogLevel.Information,
            "Scaling from {From} to {To} workers.", EventName = "Scaling")]
        public static partial void Scaling(ILogger logger, int from, int to);
    }
}
