using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace WorkerHosting.Workers;

/// <summary>
/// Confirms that an unloaded worker's load context is collected within a bounded number of garbage collections, and
/// reports the ones that stay alive (something outside the worker still references its code). Those are kept, weakly,
/// as leaked workers: listed with what holds them and the least memory they hold, dropped (and logged) if they are
/// collected later, and once more of them are alive than <see cref="WorkersOptions.MaxLeakedWorkers"/> allows, an error
/// says the process should be replaced.
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
internal sealed partial class UnloadVerifier(
    ILogger lifetimeLogger, ILogger logger, TimeProvider timeProvider, Func<int> maxLeakedWorkers, Func<bool> releaseLeftovers)
{
    /// <summary>Bounds the collections spent on one batch.</summary>
    internal const int CollectionAttempts = 10;

    /// <summary>How long no other worker must have exited before a batch is verified.</summary>
    internal static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest a worker waits for its batch to close while others keep exiting.</summary>
    internal static readonly TimeSpan MaxBatchDelay = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan _betweenCollections = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The collection from which workers still alive get the second, costlier pass before every other collection, for
    /// as long as it finds something: timers whose state reaches them (<see cref="ProcessRegistrations.ReleaseTimersReaching"/>).
    /// Unloading takes more than one collection even when nothing holds a worker (finalizers run, then the loader is
    /// freed), so the pass waits for a few.
    /// </summary>
    internal const int SecondPassAttempt = 3;

    private readonly Lock _lock = new();
    private readonly List<Leak> _leaked = [];
    private List<Request> _pending = [];
    private long _lastArrival;
    private bool _running;
    private bool _overLimit;
    private long _liveHeap = -1;
    private int _pendingCount;

    /// <summary>Gets the number of load contexts whose unload is being verified (not yet collected, nor reported leaked).</summary>
    public int PendingCount => Volatile.Read(ref _pendingCount);

    /// <summary>
    /// Verifies the given load contexts (with the next batch) and completes with whether all of them were collected.
    /// </summary>
    public Task<bool> VerifyAsync(IReadOnlyList<UnloadingWorker> unloading)
    {
        foreach (var kept in unloading.Where(w => w.KeptBecause is not null))
        {
            var heldBy = kept.KeptBecause!;
            if (!kept.AlreadyReported)
            {
                Log.WorkerKept(logger, kept.Slot, kept.Generation, kept.LoadedBytes / 1_048_576.0, heldBy);
            }

            lock (_lock)
            {
                _leaked.Add(new Leak(kept, kept.LoadedBytes, timeProvider.GetTimestamp(),
                    new LeakedWorkerSnapshot
                    {
                        Slot = kept.Slot,
                        Generation = kept.Generation,
                        StoppedAt = timeProvider.GetUtcNow(),
                        EstimatedBytes = kept.LoadedBytes,
                        HeldBy = heldBy,
                    }));
            }
        }

        var keptAny = unloading.Any(w => w.KeptBecause is not null);
        unloading = [.. unloading.Where(w => w.KeptBecause is null)];
        if (unloading.Count == 0)
        {
            CheckLeakLimit();
            return Task.FromResult(!keptAny);
        }

        var request = new Request(unloading, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool start;
        lock (_lock)
        {
            Interlocked.Add(ref _pendingCount, unloading.Count);
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
                var heapGrowth = await CollectAsync(batch).ConfigureAwait(false);
                ReportLateUnloads();
                var alive = batch.Sum(r => r.Contexts.Count(w => w.Context.IsAlive));
                var heldPerWorker = alive > 0 && heapGrowth > 0 ? heapGrowth / alive : 0;
                foreach (var request in batch)
                {
                    var verified = Report(request.Contexts, heldPerWorker);
                    Interlocked.Add(ref _pendingCount, -request.Contexts.Count);
                    request.Verified.TrySetResult(verified);
                }

                CheckLeakLimit();
            }
            catch (Exception e)
            {
                foreach (var request in batch)
                {
                    Interlocked.Add(ref _pendingCount, -request.Contexts.Count);
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

    /// <summary>
    /// Records the live managed heap (after a full collection) as the reference the next batch's growth is measured
    /// from: called once the first workers are ready.
    /// </summary>
    public void RecordLiveHeap()
    {
        var heap = GC.GetTotalMemory(forceFullCollection: true);
        lock (_lock)
        {
            _liveHeap = heap;
        }
    }

    /// <summary>Releases, collects, and returns how much the live heap grew since the last reading (-1 if unknown).</summary>
    private async Task<long> CollectAsync(List<Request> batch)
    {
        FrameworkCaches.Clear();
        var release = releaseLeftovers();
        if (release)
        {
            ReleaseRegistrations(batch);
        }

        var searchTimers = release;
        for (var attempt = 0; attempt < CollectionAttempts && batch.Any(r => r.Contexts.Any(w => w.Context.IsAlive)); attempt++)
        {
            // Every other collection: after a release, the next collection shows whether the worker is free.
            if (attempt >= SecondPassAttempt && (attempt - SecondPassAttempt) % 2 == 0 && searchTimers)
            {
                searchTimers = ReleaseTimersReaching(batch);
            }

            CollectGarbage();

            // Give threads the worker left behind (timers, pipe callbacks) a moment to finish.
            await Task.Delay(_betweenCollections, timeProvider).ConfigureAwait(false);
        }

        // The live heap after the collections: what workers found alive hold shows as its growth since the last batch
        // (a reload's new workers take the old ones' place; traffic's garbage is collected).
        var heap = GC.GetTotalMemory(forceFullCollection: false);
        long growth;
        lock (_lock)
        {
            growth = _liveHeap < 0 ? -1 : heap - _liveHeap;
            _liveHeap = heap;
        }

        // What the unloaded workers held is free now; give it back to the system rather than keep it committed.
        ReturnFreedMemory();
        return growth;
    }

    /// <summary>
    /// Logs each worker's outcome; a worker still alive is kept as leaked, with an estimate of what it holds: its share
    /// of the live heap's growth across the batch that found it alive, or the bytes of the assemblies it loaded if more.
    /// </summary>
    private bool Report(IReadOnlyList<UnloadingWorker> workers, long heldPerWorker)
    {
        var allCollected = true;
        foreach (var worker in workers)
        {
            if (worker.Context.IsAlive)
            {
                allCollected = false;
                var heldBy = DescribeHolders(worker.Context);
                var estimate = Math.Max(worker.LoadedBytes, heldPerWorker);
                Log.WorkerUnloadLeaked(logger, worker.Slot, worker.Generation, estimate / 1_048_576.0, heldBy);
                lock (_lock)
                {
                    _leaked.Add(new Leak(worker, estimate, timeProvider.GetTimestamp(),
                        new LeakedWorkerSnapshot
                        {
                            Slot = worker.Slot,
                            Generation = worker.Generation,
                            StoppedAt = timeProvider.GetUtcNow(),
                            EstimatedBytes = estimate,
                            HeldBy = heldBy,
                        }));
                }
            }
            else
            {
                Log.WorkerUnloaded(lifetimeLogger, worker.Slot, worker.Generation);
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

    private sealed record Request(IReadOnlyList<UnloadingWorker> Contexts, TaskCompletionSource<bool> Verified);
}
