using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;
using WorkerHosting.Tests.Fakes;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Workers;

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

        var verified = verifier.VerifyAsync([(0, 1, UnloadedContext())]);
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

        var verified = verifier.VerifyAsync([(2, 3, new WeakReference(context))]);
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

        var first = verifier.VerifyAsync([(0, 1, UnloadedContext())]);
        Assert.Equal(UnloadVerifier.Quiet, await _time.NextArmedAsync());
        _time.Advance(TimeSpan.FromMilliseconds(60));
        var second = verifier.VerifyAsync([(1, 1, UnloadedContext())]);
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
        var first = verifier.VerifyAsync([(0, 1, UnloadedContext())]);
        var others = new List<Task<bool>>();

        // Another worker exits 10 ms before every delay the verifier waits on runs out, so it is never quiet.
        while (!first.IsCompleted && _time.GetUtcNow() - started < 3 * UnloadVerifier.MaxBatchDelay)
        {
            var due = await _time.NextArmedAsync(Timeout);
            var beforeDue = due > TimeSpan.FromMilliseconds(10) ? due - TimeSpan.FromMilliseconds(10) : TimeSpan.Zero;
            _time.Advance(beforeDue);
            others.Add(verifier.VerifyAsync([(others.Count + 1, 1, UnloadedContext())]));
            _time.Advance(due - beforeDue);
        }

        Assert.True(await first.WaitAsync(Timeout));
        Assert.InRange(_time.GetUtcNow() - started, UnloadVerifier.MaxBatchDelay, UnloadVerifier.MaxBatchDelay + UnloadVerifier.Quiet);
        Assert.True(others.Count >= 10, $"{others.Count} workers exited while the first one waited.");
    }

    [Fact]
    public async Task VerifyAsync_NothingToVerify_CompletesAtOnce()
    {
        var verified = NewVerifier().VerifyAsync([]);

        Assert.True(verified.IsCompletedSuccessfully);
        Assert.True(await verified);
        Assert.Equal(0, _time.ArmCount);
    }

    private UnloadVerifier NewVerifier() => new(_lifetimeLog, _log, _time);

    /// <summary>Advances the fake clock past every delay the verifier arms until <paramref name="task"/> ends.</summary>
    private async Task<int> RunClockUntilAsync(Task task)
    {
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

    /// <summary>A collectible load context, unloaded, that nothing references any more.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference UnloadedContext()
    {
        var context = new AssemblyLoadContext("unloaded", isCollectible: true);
        context.Unload();
        return new WeakReference(context);
    }
}
