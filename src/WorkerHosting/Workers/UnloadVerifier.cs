using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Workers;

/// <summary>
/// Confirms that an unloaded worker's load context is collected within a bounded number of garbage collections, and
/// reports the ones that stay alive (something outside the worker still references its code).
/// </summary>
internal sealed partial class UnloadVerifier(ILogger lifetimeLogger, ILogger logger, TimeProvider timeProvider) : IDisposable
{
    /// <summary>Bounds the collections spent on one verification.</summary>
    internal const int CollectionAttempts = 10;

    private static readonly TimeSpan _betweenCollections = TimeSpan.FromMilliseconds(10);

    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    public async Task<bool> VerifyAsync(IReadOnlyList<(int Slot, int Generation, WeakReference Context)> unloading)
    {
        if (unloading.Count == 0)
        {
            return true;
        }

        await _oneAtATime.WaitAsync().ConfigureAwait(false);
        try
        {
            FrameworkCaches.Clear();
            for (var attempt = 0; attempt < CollectionAttempts && unloading.Any(u => u.Context.IsAlive); attempt++)
            {
                CollectGarbage();

                // Give threads the worker left behind (timers, pipe callbacks) a moment to finish.
                await Task.Delay(_betweenCollections, timeProvider).ConfigureAwait(false);
            }
        }
        finally
        {
            _oneAtATime.Release();
        }

        var allCollected = true;
        foreach (var (slot, generation, context) in unloading)
        {
            if (context.IsAlive)
            {
                allCollected = false;
                Log.WorkerUnloadLeaked(logger, slot, generation);
            }
            else
            {
                Log.WorkerUnloaded(lifetimeLogger, slot, generation);
            }
        }

        return allCollected;
    }

    public void Dispose() => _oneAtATime.Dispose();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CollectGarbage()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.WorkerUnloaded, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) was unloaded.", EventName = "WorkerUnloaded")]
        public static partial void WorkerUnloaded(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.WorkerUnloadLeaked, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) was unloaded but its load context is still alive: something outside the worker references its code.",
            EventName = "WorkerUnloadLeaked")]
        public static partial void WorkerUnloadLeaked(ILogger logger, int workerSlot, int generation);
    }
}
