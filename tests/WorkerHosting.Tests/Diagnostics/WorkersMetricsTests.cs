using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using WorkerHosting.Diagnostics;
using WorkerHosting.Tests.Coordinator;
using WorkerHosting.Tests.Fakes;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Diagnostics;

/// <summary>The WorkerHosting meter, read through <see cref="MetricCollector{T}"/> while the pool runs over fake workers.</summary>
public sealed class WorkersMetricsTests
{
    [Fact]
    public async Task WorkerCount_ACollectorAttachedAfterTheStartAndDuringAReload_ReadsTheWorkersByStateNow()
    {
        await using var pool = new PoolHarness();
        var old = await pool.StartAsync();

        // Attached after the start: an observable instrument reports what exists now, not changes since attaching.
        using var count = new MetricCollector<int>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.worker.count");
        Assert.Equal((0, 2, 0), Read(count));

        pool.Factory.OnStart = _ => { };
        old[0].ExitsWhenStopped = false;
        var reload = pool.Pool.ReloadAsync();
        var fresh0 = await pool.Factory.NextStartedAsync();
        Assert.Equal((1, 2, 0), Read(count));

        fresh0.BecomeReady();
        var fresh1 = await pool.Factory.NextStartedAsync();
        Assert.Equal((1, 2, 1), Read(count));

        fresh1.BecomeReady();
        old[0].Exit();
        Assert.True((await reload.WaitAsync(PoolHarness.WaitTimeout)).Succeeded);
        await pool.SettleAsync();
        Assert.Equal((0, 2, 0), Read(count));
        Assert.Equal("{worker}", count.Instrument!.Unit);
    }

    [Fact]
    public async Task StartDuration_AFailedStart_IsRecordedWithTheExceptionTypeAndASuccessWithoutErrorType()
    {
        await using var pool = new PoolHarness();
        using var starts = new MetricCollector<double>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.worker.start.duration");
        pool.Factory.FailFirstStartOf(1);

        await pool.StartAsync();
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerRestarted);

        var measurements = starts.GetMeasurementSnapshot();
        var failed = Assert.Single(measurements, m => m.Tags.ContainsKey("error.type"));
        Assert.Equal("System.InvalidOperationException", failed.Tags["error.type"]);
        Assert.Equal(2, measurements.Count(m => m.Tags.Count == 0));
        Assert.Equal("s", starts.Instrument!.Unit);
    }

    [Fact]
    public async Task Reload_ANewWorkerNeverReady_RecordsATimeoutStartAndAFailedReload()
    {
        await using var pool = new PoolHarness();
        await pool.StartAsync();
        using var starts = new MetricCollector<double>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.worker.start.duration");
        using var reloads = new MetricCollector<double>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.reload.duration");
        pool.Factory.OnStart = _ => { };

        var reload = pool.Pool.ReloadAsync();
        await pool.Factory.NextStartedAsync();
        await pool.Time.WaitForArmAsync(pool.Options.StartupTimeout);
        pool.Time.Advance(pool.Options.StartupTimeout);
        Assert.False((await reload.WaitAsync(PoolHarness.WaitTimeout)).Succeeded);

        var start = Assert.Single(starts.GetMeasurementSnapshot());
        Assert.Equal("timeout", start.Tags["error.type"]);
        Assert.Equal(pool.Options.StartupTimeout.TotalSeconds, start.Value);
        var failed = Assert.Single(reloads.GetMeasurementSnapshot());
        Assert.Equal("failed", failed.Tags["workerhosting.reload.result"]);
        Assert.Equal(pool.Options.StartupTimeout.TotalSeconds, failed.Value);
    }

    [Fact]
    public async Task Exits_AReloadAScaleDownAndACrash_AreCountedByReasonAndTheReloadDurationBySucceeded()
    {
        await using var pool = new PoolHarness(o => o.Count = 3);
        var workers = await pool.StartAsync();
        using var exits = new MetricCollector<long>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.worker.exits");
        using var reloads = new MetricCollector<double>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.reload.duration");
        using var drains = new MetricCollector<double>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.drain.duration");

        Assert.True((await pool.Pool.ReloadAsync().WaitAsync(PoolHarness.WaitTimeout)).Succeeded);
        await pool.Pool.ScaleAsync(2).WaitAsync(PoolHarness.WaitTimeout);
        var serving = pool.Factory.All.Single(w => w is { Slot: 0, Generation: 2 });
        serving.Crash(new InvalidOperationException("Crashed."));
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerExitedUnexpectedly);
        await pool.SettleAsync();

        var byReason = exits.GetMeasurementSnapshot()
            .GroupBy(m => (string)m.Tags["workerhosting.exit.reason"]!)
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.Equal(new Dictionary<string, long> { ["reload"] = 3, ["scale"] = 1, ["failure"] = 1 }, byReason);
        var reloaded = Assert.Single(reloads.GetMeasurementSnapshot());
        Assert.Equal("succeeded", reloaded.Tags["workerhosting.reload.result"]);
        Assert.Equal(4, drains.GetMeasurementSnapshot().Count);
        Assert.All(workers, w => Assert.True(w.StopRequested));
    }

    [Fact]
    public async Task Exits_ARecycleThenAStop_AreCountedAsRecycleAndStop()
    {
        await using var pool = new PoolHarness(o => o.MaxRequests = 100);
        var workers = await pool.StartAsync();
        using var exits = new MetricCollector<long>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.worker.exits");

        workers[0].ReachRequestLimit();
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerStopped);
        await pool.SettleAsync();
        Assert.Equal(new Dictionary<string, long> { ["recycle"] = 1 }, ByReason(exits));

        using var deadline = new CancellationTokenSource(PoolHarness.WaitTimeout);
        await pool.Pool.StopAsync(pool.Options.GracefulTimeout, deadline.Token);

        Assert.Equal(new Dictionary<string, long> { ["recycle"] = 1, ["stop"] = 2 }, ByReason(exits));
        Assert.All(exits.GetMeasurementSnapshot(), m => Assert.Equal(1, m.Value));
        Assert.Equal("{worker}", exits.Instrument!.Unit);
    }

    [Fact]
    public async Task Exits_AWorkerThatFailsToStartAndOneThatCrashes_AreCountedAsFailure()
    {
        await using var pool = new PoolHarness();
        using var exits = new MetricCollector<long>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.worker.exits");
        pool.Factory.FailFirstStartOf(1);

        await pool.StartAsync();
        await exits.WaitForMeasurementsAsync(1, PoolHarness.WaitTimeout);
        Assert.Equal(new Dictionary<string, long> { ["failure"] = 1 }, ByReason(exits));

        pool.Factory.All.Single(w => w is { Slot: 0, Generation: 1 }).Crash(new InvalidOperationException("Crashed."));
        await exits.WaitForMeasurementsAsync(2, PoolHarness.WaitTimeout);
        await pool.SettleAsync();

        Assert.Equal(new Dictionary<string, long> { ["failure"] = 2 }, ByReason(exits));
    }

    [Fact]
    public async Task ReloadDuration_AReloadStoppedByTheStop_IsRecordedAsCancelledWithItsDuration()
    {
        await using var pool = new PoolHarness();
        await pool.StartAsync();
        using var reloads = new MetricCollector<double>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.reload.duration");
        pool.Factory.OnStart = _ => { };

        var reload = pool.Pool.ReloadAsync();
        await pool.Factory.NextStartedAsync();
        await pool.Time.WaitForArmAsync(pool.Options.StartupTimeout);
        pool.Time.Advance(TimeSpan.FromSeconds(3));
        using var deadline = new CancellationTokenSource(PoolHarness.WaitTimeout);
        await pool.Pool.StopAsync(pool.Options.GracefulTimeout, deadline.Token);
        var result = await reload.WaitAsync(PoolHarness.WaitTimeout);

        Assert.False(result.Succeeded);
        Assert.Equal("The reload was cancelled: the workers are stopping.", result.Error);
        var cancelled = Assert.Single(reloads.GetMeasurementSnapshot());
        Assert.Equal("cancelled", cancelled.Tags["workerhosting.reload.result"]);
        Assert.Equal(3.0, cancelled.Value);
    }

    [Fact]
    public void RequestsAborted_TheDrainDeadlineOfAWorkerWithRequestsInFlight_CountsThem()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        using var aborted = new MetricCollector<long>(meterFactory, WorkersMetrics.MeterName, "workerhosting.requests.aborted");
        var runtime = NewRuntime(meterFactory);

        // Three requests start, one finishes: two are in flight when the graceful timeout runs out.
        runtime.OnRequestStarted();
        runtime.OnRequestStarted();
        runtime.OnRequestStarted();
        runtime.OnRequestEnded();
        runtime.OnDrainDeadline();

        var measurement = Assert.Single(aborted.GetMeasurementSnapshot());
        Assert.Equal(2, measurement.Value);
        Assert.Empty(measurement.Tags);
        Assert.Equal("{request}", aborted.Instrument!.Unit);
    }

    [Fact]
    public void RequestsAborted_TheDrainDeadlineOfAnIdleWorker_RecordsNothing()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        using var aborted = new MetricCollector<long>(meterFactory, WorkersMetrics.MeterName, "workerhosting.requests.aborted");
        var runtime = NewRuntime(meterFactory);

        runtime.OnRequestStarted();
        runtime.OnRequestEnded();
        runtime.OnDrainDeadline();

        Assert.Empty(aborted.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task LoadContextCount_ReadsTheLiveWorkersAsActive()
    {
        await using var pool = new PoolHarness();
        await pool.StartAsync();
        using var contexts = new MetricCollector<int>(pool.MeterFactory, WorkersMetrics.MeterName, "workerhosting.load_context.count");

        contexts.RecordObservableInstruments();

        var latest = contexts.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["workerhosting.load_context.state"]!, m => m.Value);
        Assert.Equal(new Dictionary<string, int> { ["active"] = 2, ["unloading"] = 0, ["leaked"] = 0 }, latest);
    }

    private static Dictionary<string, long> ByReason(MetricCollector<long> exits) => exits.GetMeasurementSnapshot()
        .GroupBy(m => (string)m.Tags["workerhosting.exit.reason"]!)
        .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));

    /// <summary>Collects the observable instrument now; returns the workers (starting, ready, draining).</summary>
    private static (int Starting, int Ready, int Draining) Read(MetricCollector<int> count)
    {
        count.Clear();
        count.RecordObservableInstruments();
        var byState = count.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["workerhosting.worker.state"]!, m => m.Value);
        return (byState["starting"], byState["ready"], byState["draining"]);
    }

    /// <summary>A worker's runtime recording into <paramref name="meterFactory"/>'s WorkerHosting meter.</summary>
    private static WorkerRuntime NewRuntime(IMeterFactory meterFactory) =>
        new(0, 1, [], TimeSpan.FromSeconds(1), endpoints: null!,
            new SocketConnectionContextFactory(new SocketConnectionFactoryOptions(), NullLogger.Instance),
            NullLogger.Instance, TimeProvider.System, new FakeWorkerPool(), new WorkersMetrics(meterFactory), new WorkerHosting.Coordinator.ShutdownState());
}
