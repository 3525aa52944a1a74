using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;
using WorkerHosting.Tests.Fakes;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Workers;

[Collection(ProcessWideStateTests.Name)]
public class UnloadVerifierTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly ArmingTimeProvider _time = new();
    private readonly RecordingLogger _lifetimeLog = new();
    private readonly RecordingLogger _log = new();

    [Fact]
    public async Task VerifyAsync_ALoadContextThatWasUnloaded_IsReportedCollected()
    {
        var verifier = NewVerifier();

        var verified = verifier.VerifyAsync([new UnloadingWorker(0, 1, UnloadedContext(), 0)]);
        await RunClockUntilAsync(verified);

        Assert.True(await verified);
        var entry = Assert.Single(_lifetimeLog.Entries);
        Assert.Equal(WorkersEventIds.WorkerUnloaded, entry.EventId.Id);
        Assert.Equal("Worker 0 (generation 1) was unloaded.", entry.Message);
        Assert.Empty(_log.Entries);
    }

    [Fact]
    public async Task VerifyAsync_ALoadContextStillReferenced_IsReportedAliveAfterTheBoundedCollections()
    {
        var verifier = NewVerifier();
        var context = new AssemblyLoadContext("held", isCollectible: true);
        context.Unload();

        var verified = verifier.VerifyAsync([new UnloadingWorker(2, 3, new WeakReference(context), 0)]);
        var delays = await RunClockUntilAsync(verified);

        Assert.False(await verified);
        var entry = Assert.Single(_log.Entries);
        Assert.Equal(WorkersEventIds.WorkerUnloadLeaked, entry.EventId.Id);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.StartsWith("Worker 2 (generation 3) was unloaded but its load context is still alive", entry.Message);
        Assert.Empty(_lifetimeLog.Entries);

        // The quiet wait, then one delay after each of the bounded collections.
        Assert.Equal(1 + UnloadVerifier.CollectionAttempts, delays);
        GC.KeepAlive(context);
    }

    [Fact]
    public async Task VerifyAsync_WorkersThatExitCloseTogether_AreVerifiedAsOneBatchOnceNoneHasExitedForTheQuietTime()
    {
        var verifier = NewVerifier();

        var first = verifier.VerifyAsync([new UnloadingWorker(0, 1, UnloadedContext(), 0)]);
        Assert.Equal(UnloadVerifier.Quiet, await _time.NextArmedAsync());
        _time.Advance(TimeSpan.FromMilliseconds(60));
        var second = verifier.VerifyAsync([new UnloadingWorker(1, 1, UnloadedContext(), 0)]);
        _time.Advance(TimeSpan.FromMilliseconds(40));

        // The first worker's quiet time ran out, but the second exited 40 ms ago: the batch waits for the rest.
        Assert.Equal(TimeSpan.FromMilliseconds(60), await _time.NextArmedAsync());
        Assert.False(first.IsCompleted);

        _time.Advance(TimeSpan.FromMilliseconds(60));
        await RunClockUntilAsync(Task.WhenAll(first, second));

        Assert.True(await first);
        Assert.True(await second);
        Assert.Equal(["Worker 0 (generation 1) was unloaded.", "Worker 1 (generation 1) was unloaded."],
            _lifetimeLog.Entries.Select(e => e.Message).Order());
    }

    [Fact]
    public async Task VerifyAsync_WhileWorkersKeepExiting_VerifiesWithinTheMaximumBatchDelay()
    {
        var verifier = NewVerifier();
        var started = _time.GetUtcNow();
        var first = verifier.VerifyAsync([new UnloadingWorker(0, 1, UnloadedContext(), 0)]);
        var others = new List<Task<bool>>();

        // Another worker exits 10 ms before every delay the verifier waits on runs out, so it is never quiet. A loop
        // because the number of delays is what is under test; each turn waits for the verifier to arm its next delay
        // (a signal), none polls.
        while (!first.IsCompleted && _time.GetUtcNow() - started < 3 * UnloadVerifier.MaxBatchDelay)
        {
            var due = await _time.NextArmedAsync(Timeout);
            var beforeDue = due > TimeSpan.FromMilliseconds(10) ? due - TimeSpan.FromMilliseconds(10) : TimeSpan.Zero;
            _time.Advance(beforeDue);
            others.Add(verifier.VerifyAsync([new UnloadingWorker(others.Count + 1, 1, UnloadedContext(), 0)]));
            _time.Advance(due - beforeDue);
        }

        Assert.True(await first.WaitAsync(Timeout));
        Assert.InRange(_time.GetUtcNow() - started, UnloadVerifier.MaxBatchDelay, UnloadVerifier.MaxBatchDelay + UnloadVerifier.Quiet);
        Assert.True(others.Count >= 10, $"{others.Count} workers exited while the first one waited.");
    }

    [Fact]
    public async Task VerifyAsync_ALoadContextStillReferenced_IsListedAsLeakedWithItsEstimateAndHolders()
    {
        var verifier = NewVerifier();
        var context = new AssemblyLoadContext("held", isCollectible: true);
        context.Unload();

        var verified = verifier.VerifyAsync([new UnloadingWorker(1, 4, new WeakReference(context), 3 * 1_048_576)]);
        await RunClockUntilAsync(verified);

        var leaked = Assert.Single(verifier.GetLeakedWorkers());
        Assert.Equal((1, 4, 3 * 1_048_576L), (leaked.Slot, leaked.Generation, leaked.EstimatedBytes));
        Assert.Equal(_time.GetUtcNow(), leaked.StoppedAt);
        Assert.Contains("dotnet-dump gcroot", leaked.HeldBy, StringComparison.Ordinal);
        var warning = Assert.Single(_log.Entries);
        Assert.Contains("holding about 3.0 MB of managed memory (its compiled code and type data come on top): nothing in the process-wide registries WorkerHosting knows holds it", warning.Message, StringComparison.Ordinal);
        GC.KeepAlive(context);
    }

    [Fact]
    public async Task VerifyAsync_ALeakedContextHoldingMemory_IsEstimatedFromTheLiveHeapGrowth()
    {
        var verifier = NewVerifier();
        verifier.RecordLiveHeap();
        var context = new AssemblyLoadContext("held", isCollectible: true);
        context.Unload();

        // What the leaked worker holds: 32 MB the live heap did not have when the reference was recorded.
        var held = new byte[32 * 1_048_576];
        var verified = verifier.VerifyAsync([new UnloadingWorker(0, 1, new WeakReference(context), 1_048_576)]);
        await RunClockUntilAsync(verified);

        var leaked = Assert.Single(verifier.GetLeakedWorkers());
        Assert.InRange(leaked.EstimatedBytes, 16L * 1_048_576, 256L * 1_048_576);
        GC.KeepAlive(held);
        GC.KeepAlive(context);
    }

    [Fact]
    public async Task VerifyAsync_ALeakedContextCollectedLater_LeavesTheListAndIsLoggedAtTheNextBatch()
    {
        var verifier = NewVerifier();
        var held = HeldContext();

        var first = verifier.VerifyAsync([new UnloadingWorker(0, 1, held.Reference, 0)]);
        await RunClockUntilAsync(first);
        Assert.False(await first);
        Assert.Single(verifier.GetLeakedWorkers());

        // The holder lets go (a timer fired, a thread ended): the next batch reports the late unload.
        held.Release();
        _time.Advance(TimeSpan.FromSeconds(5));
        var second = verifier.VerifyAsync([new UnloadingWorker(1, 1, UnloadedContext(), 0)]);
        await RunClockUntilAsync(second);

        Assert.Empty(verifier.GetLeakedWorkers());
        Assert.Contains(_lifetimeLog.Entries, e => e.EventId.Id == WorkersEventIds.WorkerUnloadedLate &&
            e.Message.StartsWith("Worker 0 (generation 1) was unloaded 00:00:05", StringComparison.Ordinal));
    }

    [Fact]
    public async Task VerifyAsync_MoreLeakedWorkersThanTheLimit_LogsOneErrorThatTheProcessShouldBeReplaced()
    {
        _maxLeakedWorkers = 1;
        var verifier = NewVerifier();
        var contexts = new List<AssemblyLoadContext>();
        for (var generation = 1; generation <= 3; generation++)
        {
            var context = new AssemblyLoadContext("held", isCollectible: true);
            context.Unload();
            contexts.Add(context);
            var verified = verifier.VerifyAsync([new UnloadingWorker(0, generation, new WeakReference(context), 2 * 1_048_576)]);
            await RunClockUntilAsync(verified);
        }

        Assert.Equal(3, verifier.GetLeakedWorkers().Count);
        var error = Assert.Single(_log.Entries, e => e.Level == LogLevel.Error);
        Assert.Equal(WorkersEventIds.LeakedWorkersLimitExceeded, error.EventId.Id);
        Assert.StartsWith("2 stopped workers are still in memory (more than Workers:MaxLeakedWorkers, 1), holding about 4.0 MB", error.Message, StringComparison.Ordinal);
        Assert.Contains("replace the process", error.Message, StringComparison.Ordinal);
        GC.KeepAlive(contexts);
    }

    [Fact]
    public async Task VerifyAsync_AWorkerKeptDeliberately_IsListedAsLeakedWithTheReasonWithoutCollections()
    {
        var verifier = NewVerifier();
        var context = new AssemblyLoadContext("kept", isCollectible: true);

        var verified = verifier.VerifyAsync([new UnloadingWorker(1, 2, new WeakReference(context), 1_048_576, "WorkerHosting keeps it in memory because it loaded Microsoft.EntityFrameworkCore")]);

        Assert.True(verified.IsCompletedSuccessfully);
        Assert.False(await verified);
        Assert.Equal(0, _time.ArmCount);
        var leaked = Assert.Single(verifier.GetLeakedWorkers());
        Assert.Equal((1, 2), (leaked.Slot, leaked.Generation));
        Assert.StartsWith("WorkerHosting keeps it in memory because it loaded Microsoft.EntityFrameworkCore", leaked.HeldBy, StringComparison.Ordinal);
        var warning = Assert.Single(_log.Entries);
        Assert.Equal(WorkersEventIds.WorkerKept, warning.EventId.Id);
        Assert.StartsWith("Worker 1 (generation 2) is not unloaded and stays in memory, at least 1.0 MB: WorkerHosting keeps it", warning.Message, StringComparison.Ordinal);
        GC.KeepAlive(context);
    }

    [Fact]
    public async Task VerifyAsync_AWorkerGivenUpAndAlreadyReported_IsListedAsLeakedWithoutAnotherLog()
    {
        var verifier = NewVerifier();
        var context = new AssemblyLoadContext("given up", isCollectible: true);

        var verified = verifier.VerifyAsync([new UnloadingWorker(0, 3, new WeakReference(context), 2_048, "it did not exit", AlreadyReported: true)]);

        Assert.False(await verified);
        Assert.Equal("it did not exit", Assert.Single(verifier.GetLeakedWorkers()).HeldBy);
        Assert.Empty(_log.Entries);
        GC.KeepAlive(context);
    }

    [Fact]
    public async Task VerifyAsync_NothingToVerify_CompletesAtOnce()
    {
        var verified = NewVerifier().VerifyAsync([]);

        Assert.True(verified.IsCompletedSuccessfully);
        Assert.True(await verified);
        Assert.Equal(0, _time.ArmCount);
    }

    private int _maxLeakedWorkers = 5;

    private UnloadVerifier NewVerifier() => new(_lifetimeLog, _log, _time, () => _maxLeakedWorkers, () => true);

    /// <summary>Advances the fake clock past every delay the verifier arms until <paramref name="task"/> ends.</summary>
    private async Task<int> RunClockUntilAsync(Task task)
    {
        // A loop because how many delays the verifier arms depends on what the GC collects; each turn waits for a
        // signal (the verifier armed its next delay, or finished), none polls.
        var delays = 0;
        while (!task.IsCompleted)
        {
            var armed = _time.NextArmedAsync(Timeout);
            if (await Task.WhenAny(armed, task) == task)
            {
                break;
            }

            _time.Advance(await armed);
            delays++;
        }

        await task.WaitAsync(Timeout);
        return delays;
    }

    /// <summary>A collectible load context, unloaded, that the returned holder references until released.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Holder HeldContext()
    {
        var context = new AssemblyLoadContext("held", isCollectible: true);
        context.Unload();
        return new Holder(context);
    }

    /// <summary>A collectible load context, unloaded, that nothing references any more.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference UnloadedContext()
    {
        var context = new AssemblyLoadContext("unloaded", isCollectible: true);
        context.Unload();
        return new WeakReference(context);
    }

    private sealed class Holder(AssemblyLoadContext context)
    {
        private AssemblyLoadContext? _context = context;

        public WeakReference Reference { get; } = new(context);

        public void Release() => _context = null;

        public override string ToString() => _context?.Name ?? "released";
    }
}
