using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Lifecycle;

/// <summary>
/// Replaces every slot's worker in turn: each new worker is ready before the old one drains, so serving capacity never
/// drops below the worker count. A worker that fails to start ends the reload; the old workers keep serving.
/// </summary>
internal static partial class RollingReload
{
    /// <summary>
    /// Runs the reload on the control loop: returns once every slot has its new worker (or the reload stopped), with the
    /// outcome and the workers it replaced. A reload that succeeded ends when those have ended (or been given up) as well;
    /// one that failed returns none, and ends now.
    /// </summary>
    public static async Task<(WorkerReloadResult Result, WorkerEntry[] Replaced)> RunAsync(
        WorkerSet set, WorkerBooter booter, WorkersOptions options, WorkersMetrics metrics, ILogger lifetimeLogger, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var started = timeProvider.GetTimestamp();
        var slots = set.Slots;
        var replaced = 0;
        var ended = new List<WorkerEntry>();
        Log.ReloadStarting(lifetimeLogger, slots.Length);
        try
        {
            foreach (var slot in slots)
            {
                if (slot.State == WorkerSlotState.Removed)
                {
                    continue;
                }

                var old = await booter.ReplaceAsync(slot, WorkerExitReason.Reload, options, cancellationToken).ConfigureAwait(false);
                if (old is not null)
                {
                    ended.Add(old);
                }

                replaced++;
            }
        }
        catch (WorkerFailedException e)
        {
            metrics.ReloadEnded(timeProvider.GetElapsedTime(started), "failed");
            Log.ReloadFailed(lifetimeLogger, replaced, e.Message, e.InnerException);
            return (Failed(replaced, e.Message), []);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            metrics.ReloadEnded(timeProvider.GetElapsedTime(started), "cancelled");
            Log.ReloadFailed(lifetimeLogger, replaced, "the workers are stopping", null);
            return (Failed(replaced, "The reload was cancelled: the workers are stopping."), []);
        }

        // Every slot serves its new worker: the next operation may begin while the old ones drain.
        var elapsed = timeProvider.GetElapsedTime(started);
        metrics.ReloadEnded(elapsed, "succeeded");
        Log.ReloadCompleted(lifetimeLogger, replaced, elapsed.TotalMilliseconds);
        return (new WorkerReloadResult { Succeeded = true, Replaced = replaced }, [.. ended]);
    }

    private static WorkerReloadResult Failed(int replaced, string reason) => new() { Succeeded = false, Replaced = replaced, Error = reason };

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.ReloadStarting, LogLevel.Information,
            "Reloading {Count} workers, one at a time.", EventName = "ReloadStarting")]
        public static partial void ReloadStarting(ILogger logger, int count);

        [LoggerMessage(WorkersEventIds.ReloadCompleted, LogLevel.Information,
            "Reloaded {Count} workers in {ElapsedMilliseconds:F0} ms.", EventName = "ReloadCompleted")]
        public static partial void ReloadCompleted(ILogger logger, int count, double elapsedMilliseconds);

        [LoggerMessage(WorkersEventIds.ReloadFailed, LogLevel.Warning,
            "The reload stopped after replacing {Replaced} workers, and the other workers keep serving ({Reason}).", EventName = "ReloadFailed")]
        public static partial void ReloadFailed(ILogger logger, int replaced, string reason, Exception? exception);
    }
}
