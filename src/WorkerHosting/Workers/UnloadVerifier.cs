using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Workers;

/// <summary>
/// Confirms that an unloaded worker's load context is collected within a bounded number of garbage collections, and
/// reports the ones that stay alive (something outside the worker still references its code).
/// </summary>
/// <remarks>
/// Workers that exit close together (a rolling reload replaces them one after another, a stop ends them all) are
/// verified together: the verifier waits until no worker has exited for <see cref="Quiet"/> (at most
/// <see cref="MaxBatchDelay"/>), then clears the framework's caches once and runs one series of full collections for
/// all of them, ending with one aggressive collection that decommits what the unloaded workers held. Full collections
/// stop every live worker's threads; measured under load, verifying each worker on its own was most of what
/// back-to-back reloads cost in p99 latency and in requests served. Batching alone kept more memory committed
/// (fewer collections); the closing aggressive collection brings RSS below where per-worker verification left it.
/// </remarks>
internal sealed partial class UnloadVerifier(ILogger lifetimeLogger, ILogger logger, TimeProvider timeProvider)
{
    /// <summary>Bounds the collections spent on one batch.</summary>
    internal const int CollectionAttempts = 10;

    /// <summary>How long no other worker must have exited before a batch is verified.</summary>
    internal static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest a worker waits for its batch to close while others keep exiting.</summary>
    internal static readonly TimeSpan MaxBatchDelay = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan _betweenCollections = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The collection before which workers still alive get the second, costlier pass: timers whose state reaches them
    /// (<see cref="ProcessRegistrations.ReleaseTimersReaching"/>). Unloading takes more than one collection even when
    /// nothing holds a worker (finalizers run, then the loader is freed), so the pass waits for a few.
    /// </summary>
    internal const int SecondPassAttempt = 3;

    private readonly Lock _lock = new();
    private List<Request> _pending = [];
    private long _lastArrival;
    private bool _running;

    /// <summary>
    /// Verifies the given load contexts (with the next batch) and completes with whether all of them were collected.
    /// </summary>
    public Task<bool> VerifyAsync(IReadOnlyList<(int Slot, int Generation, WeakReference Context)> unloading)
    {
        if (unloading.Count == 0)
        {
            return Task.FromResult(true);
        }

        var request = new Request(unloading, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool start;
        lock (_lock)
        {
            _pending.Add(request);
            _lastArrival = timeProvider.GetTimestamp();
            start = !_running;
            _running = true;
        }

        if (start)
        {
            _ = RunAsync();
        }

        return request.Verified.Task;
    }

    private async Task RunAsync()
    {
        while (true)
        {
            await WaitForQuietAsync().ConfigureAwait(false);

            List<Request> batch;
            lock (_lock)
            {
                batch = _pending;
                _pending = [];
            }

            try
            {
                await CollectAsync(batch).ConfigureAwait(false);
                foreach (var request in batch)
                {
                    request.Verified.TrySetResult(Report(request.Contexts));
                }
            }
            catch (Exception e)
            {
                foreach (var request in batch)
                {
                    request.Verified.TrySetException(e);
                }
            }

            lock (_lock)
            {
                if (_pending.Count == 0)
                {
                    _running = false;
                    return;
                }
            }
        }
    }

    private async Task WaitForQuietAsync()
    {
        var started = timeProvider.GetTimestamp();
        while (true)
        {
            TimeSpan sinceLast;
            lock (_lock)
            {
                sinceLast = timeProvider.GetElapsedTime(_lastArrival);
            }

            var waited = timeProvider.GetElapsedTime(started);
            if (sinceLast >= Quiet || waited >= MaxBatchDelay)
            {
                return;
            }

            var delay = Quiet - sinceLast < MaxBatchDelay - waited ? Quiet - sinceLast : MaxBatchDelay - waited;
            await Task.Delay(delay, timeProvider).ConfigureAwait(false);
        }
    }

    private async Task CollectAsync(List<Request> batch)
    {
        FrameworkCaches.Clear();
        ReleaseRegistrations(batch);
        for (var attempt = 0; attempt < CollectionAttempts && batch.Any(r => r.Contexts.Any(c => c.Context.IsAlive)); attempt++)
        {
            if (attempt == SecondPassAttempt)
            {
                ReleaseTimersReaching(batch);
            }

            CollectGarbage();

            // Give threads the worker left behind (timers, pipe callbacks) a moment to finish.
            await Task.Delay(_betweenCollections, timeProvider).ConfigureAwait(false);
        }

        // What the unloaded workers held is free now; give it back to the system rather than keep it committed.
        ReturnFreedMemory();
    }

    /// <summary>
    /// Releases what each worker left registered process-wide (<see cref="ProcessRegistrations"/>). Not inlined: the
    /// load contexts it resolves from their weak references must not stay on the caller's frame during the collections.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReleaseRegistrations(List<Request> batch)
    {
        foreach (var (slot, generation, context) in batch.SelectMany(r => r.Contexts))
        {
            if (context.Target is AssemblyLoadContext loadContext)
            {
                var released = ProcessRegistrations.Release([loadContext]);
                if (released.Count > 0)
                {
                    Log.RegistrationsReleased(logger, slot, generation, released.Count, string.Join("; ", released));
                }
            }
        }
    }

    /// <inheritdoc cref="ReleaseRegistrations"/>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReleaseTimersReaching(List<Request> batch)
    {
        foreach (var (slot, generation, context) in batch.SelectMany(r => r.Contexts))
        {
            if (context.Target is AssemblyLoadContext loadContext)
            {
                var released = ProcessRegistrations.ReleaseTimersReaching([loadContext], release: true);
                if (released.Count > 0)
                {
                    Log.RegistrationsReleased(logger, slot, generation, released.Count, string.Join("; ", released));
                }
            }
        }
    }

    private bool Report(IReadOnlyList<(int Slot, int Generation, WeakReference Context)> contexts)
    {
        var allCollected = true;
        foreach (var (slot, generation, context) in contexts)
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

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CollectGarbage()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private static void ReturnFreedMemory() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    private sealed record Request(
        IReadOnlyList<(int Slot, int Generation, WeakReference Context)> Contexts, TaskCompletionSource<bool> Verified);

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.WorkerUnloaded, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) was unloaded.", EventName = "WorkerUnloaded")]
        public static partial void WorkerUnloaded(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.WorkerUnloadLeaked, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) was unloaded but its load context is still alive: something outside the worker references its code.",
            EventName = "WorkerUnloadLeaked")]
        public static partial void WorkerUnloadLeaked(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.WorkerRegistrationsReleased, LogLevel.Debug,
            "Worker {WorkerSlot} (generation {Generation}) left {Count} process-wide registrations behind; released: {Registrations}.",
            EventName = "WorkerRegistrationsReleased")]
        public static partial void RegistrationsReleased(ILogger logger, int workerSlot, int generation, int count, string registrations);
    }
}
