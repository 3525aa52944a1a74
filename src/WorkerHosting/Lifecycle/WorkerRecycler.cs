using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;
using WorkerHosting.Workers;

namespace WorkerHosting.Lifecycle;

/// <summary>Replaces a worker that has served its MaxRequests (plus jitter) with a new one in its slot.</summary>
internal static partial class WorkerRecycler
{
    /// <summary>Runs on the control loop. A worker that is no longer its slot's serving worker is left alone.</summary>
    public static async Task RunAsync(WorkerSet set, WorkerBooter booter, IWorkerHandle handle, WorkersOptions options, ILogger lifetimeLogger, CancellationToken cancellationToken)
    {
        var slot = set.Slots.FirstOrDefault(s => s.Current?.Handle == handle);
        if (slot is null || slot.Current!.State != WorkerState.Ready)
        {
            return;
        }

        Log.Recycling(lifetimeLogger, handle.Slot, handle.Generation, handle.RequestLimit);
        try
        {
            await booter.ReplaceAsync(slot, WorkerExitReason.Recycle, options, cancellationToken).ConfigureAwait(false);
        }
        catch (WorkerFailedException e)
        {
            Log.RecycleFailed(lifetimeLogger, handle.Slot, handle.Generation, e.InnerException ?? e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.Recycling, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) reached its limit of {RequestLimit} requests (Workers:MaxRequests); replacing it.",
            EventName = "Recycling")]
        public static partial void Recycling(ILogger logger, int workerSlot, int generation, long requestLimit);

        [LoggerMessage(WorkersEventIds.RecycleFailed, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) could not be replaced: its replacement failed to start, so it keeps serving.",
            EventName = "RecycleFailed")]
        public static partial void RecycleFailed(ILogger logger, int workerSlot, int generation, Exception exception);
    }
}
