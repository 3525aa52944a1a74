using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using WorkerHosting.Diagnostics;
using WorkerHosting.Tests.Coordinator;
using WorkerHosting.Tests.Workers;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Diagnostics;

/// <summary>
/// <c>workerhosting.load_context.count</c> while load contexts are verified and kept. Unload verification clears the
/// framework's caches and forces collections, so these run with the other tests of process-wide state.
/// </summary>
[Collection(ProcessWideStateTests.Name)]
public sealed class WorkersMetricsLoadContextTests
{
    [Fact]
    public async Task LoadContextCount_AContextBeingVerifiedThenAWorkerGivenUp_ReadsUnloadingThenLeaked()
    {
        await using var pool = new PoolHarness();
        var workers = await pool.StartAsync();
        using var contexts = new MetricCollector<int>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.load_context.count");

        // Slot 1 is removed. Its context (already collected) waits for the verifier's quiet period on the fake clock.
        workers[1].UnloadResult = new UnloadingWorker(1, 1, new WeakReference(null), LoadedBytes: 0);
        await pool.Pool.ScaleAsync(1).WaitAsync(PoolHarness.WaitTimeout);
        await pool.Time.WaitForArmAsync(UnloadVerifier.Quiet);
        Assert.Equal((1, 1, 0), Read(contexts));

        pool.Time.Advance(UnloadVerifier.Quiet);
        await pool.QuiesceAsync();
        Assert.Equal(1, pool.Log.Count(WorkersEventIds.WorkerUnloaded));
        Assert.Equal((1, 0, 0), Read(contexts));

        // The last worker never exits once the reload replaced it: given up at its exit deadline, it is kept, as leaked.
        var kept = new object();
        workers[0].ExitsWhenStopped = false;
        workers[0].GiveUpResult = new UnloadingWorker(0, 1, new WeakReference(kept), LoadedBytes: 1_000_000, KeptBecause: "it did not exit", AlreadyReported: true);
        var reload = pool.Pool.ReloadAsync();
        await pool.Log.WaitForAsync(WorkersEventIds.ReloadCompleted);
        Assert.Equal((2, 0, 0), Read(contexts));

        pool.Time.Advance(pool.ExitDeadline);
        Assert.True((await reload.WaitAsync(PoolHarness.WaitTimeout)).Succeeded);
        await pool.SettleAsync();

        Assert.Equal((1, 0, 1), Read(contexts));
        Assert.Equal("{context}", contexts.Instrument!.Unit);
        GC.KeepAlive(kept);
    }

    /// <summary>Collects the observable instrument now; returns the load contexts (active, unloading, leaked).</summary>
    private static (int Active, int Unloading, int Leaked) Read(MetricCollector<int> contexts)
    {
        contexts.Clear();
        contexts.RecordObservableInstruments();
        var byState = contexts.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["workerhosting.load_context.state"]!, m => m.Value);
        return (byState["active"], byState["unloading"], byState["leaked"]);
    }
}
