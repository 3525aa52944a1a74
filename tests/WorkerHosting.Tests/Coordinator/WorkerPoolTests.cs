using WorkerHosting.Coordinator;
using WorkerHosting.Diagnostics;
using WorkerHosting.Tests.Fakes;

namespace WorkerHosting.Tests.Coordinator;

/// <summary>
/// The control loop's guarantees, through the pool, with fake workers and a fake clock: one operation at a time, serving
/// capacity never below the count, every failure counted once, and a stop that ends.
/// </summary>
public sealed class WorkerPoolTests
{
    /// <summary>Only to show that something did not happen (a command waiting its turn).</summary>
    private static readonly TimeSpan NegativeAssertionDelay = TimeSpan.FromMilliseconds(200);

    private static readonly AsyncLocal<string?> _requestFlow = new();

    [Fact]
    public async Task StartAsync_EveryWorkerReady_AllServeAndTakeConnections()
    {
        await using var pool = new PoolHarness();

        var workers = await pool.StartAsync();

        Assert.Equal([(0, 1, WorkerState.Ready), (1, 1, WorkerState.Ready)], pool.Workers);
        Assert.All(workers, w => Assert.True(w.Active));
        Assert.Equal(2, pool.Log.Count(WorkersEventIds.WorkerReady));
    }

    [Fact]
    public async Task StartAsync_NoWorkerStarts_ThrowsWithEveryFailureAndRestartsNothing()
    {
        await using var pool = new PoolHarness();
        pool.Factory.OnStart = w => w.FailToStart(new InvalidOperationException($"Slot {w.Slot} is broken."));

        var exception = await Assert.ThrowsAsync<InvalidOperationException>(() => pool.Pool.StartAsync(CancellationToken.None).WaitAsync(PoolHarness.WaitTimeout));

        Assert.Equal(
            "None of the 2 workers could start. Worker 0 (generation 1) failed to start: Slot 0 is broken. Worker 1 (generation 1) failed to start: Slot 1 is broken.",
            exception.Message);
        Assert.Equal(2, Assert.IsType<AggregateException>(exception.InnerException).InnerExceptions.Count);
        Assert.Equal(0, pool.Log.Count(WorkersEventIds.WorkerFailedToStart));
        Assert.Equal(0, pool.Log.Count(WorkersEventIds.WorkerRestarting));
        Assert.Equal(2, pool.Factory.All.Count);
    }

    [Fact]
    public async Task StartAsync_OneSlotFailsToStart_LogsItOnceAndRestartsTheSlot()
    {
        await using var pool = new PoolHarness();
        pool.Factory.FailFirstStartOf(1);

        await pool.StartAsync();
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerRestarted);

        Assert.Equal([(0, 1), (1, 2)], pool.Serving);
        var failure = Assert.Single(pool.Log.Entries, e => e.EventId.Id == WorkersEventIds.WorkerFailedToStart);
        Assert.Equal("Not yet.", failure.Exception?.Message);
    }

    [Fact]
    public async Task ReloadAsync_ReplacesOneSlotAtATime_EachReadyBeforeItsPredecessorStops()
    {
        await using var pool = new PoolHarness();
        var old = await pool.StartAsync();
        pool.Factory.OnStart = _ => { };

        var reload = pool.Pool.ReloadAsync();
        var fresh0 = await pool.Factory.NextStartedAsync();
        Assert.Equal((0, 2), (fresh0.Slot, fresh0.Generation));
        Assert.Equal([(0, 1), (1, 1)], pool.Serving);
        Assert.False(old[0].StopRequested);

        fresh0.BecomeReady();
        var fresh1 = await pool.Factory.NextStartedAsync();
        Assert.Equal((1, 2), (fresh1.Slot, fresh1.Generation));
        Assert.Equal((pool.Options.GracefulTimeout, true), old[0].Stop);
        Assert.False(old[1].StopRequested);
        Assert.Equal([(0, 2), (1, 1)], pool.Serving);

        fresh1.BecomeReady();
        var result = await reload.WaitAsync(PoolHarness.WaitTimeout);

        Assert.True(result.Succeeded);
        Assert.Equal(2, result.Replaced);
        Assert.Equal([(0, 2), (1, 2)], pool.Serving);
        Assert.All(old, w => Assert.True(w.Unloaded));
    }

    [Fact]
    public async Task ReloadAsync_DuringARestartsBackoff_FillsTheSlotAndTheRestartEnds()
    {
        await using var pool = new PoolHarness();
        var workers = await pool.StartAsync();
        pool.Factory.OnStart = w => w.FailToStart(new InvalidOperationException("Still broken."));

        workers[0].Crash(new InvalidOperationException("Crashed."));
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerRestarting);
        await pool.Time.WaitForArmAsync(pool.Options.Restart.Delay);

        pool.Factory.OnStart = w => w.BecomeReady();
        var result = await pool.Pool.ReloadAsync().WaitAsync(PoolHarness.WaitTimeout);
        Assert.True(result.Succeeded);
        Assert.Equal([(0, 3), (1, 2)], pool.Serving);

        // The backoff ends: the attempt finds the slot filled and boots nothing.
        pool.Time.Advance(pool.Options.Restart.Delay);
        await pool.QuiesceAsync();

        Assert.Equal(5, pool.Factory.All.Count);
        Assert.Equal([(0, 3), (1, 2)], pool.Serving);
        Assert.Equal(1, pool.Log.Count(WorkersEventIds.WorkerExitedUnexpectedly));
    }

    [Fact]
    public async Task ScaleAsync_DownDuringAReload_WaitsForTheReloadThenRemovesTheSlot()
    {
        await using var pool = new PoolHarness();
        await pool.StartAsync();
        pool.Factory.OnStart = _ => { };

        var reload = pool.Pool.ReloadAsync();
        var fresh0 = await pool.Factory.NextStartedAsync();
        var scale = pool.Pool.ScaleAsync(1);

        await Assert.ThrowsAsync<TimeoutException>(() => scale.WaitAsync(NegativeAssertionDelay));
        Assert.Equal(0, pool.Log.Count(WorkersEventIds.Scaling));
        Assert.Equal(2, pool.Pool.Count);

        fresh0.BecomeReady();
        var fresh1 = await pool.Factory.NextStartedAsync();
        fresh1.BecomeReady();
        await reload.WaitAsync(PoolHarness.WaitTimeout);
        await scale.WaitAsync(PoolHarness.WaitTimeout);

        Assert.Equal([(0, 2)], pool.Serving);
        Assert.True(fresh1.StopRequested);
        Assert.Equal(1, pool.Pool.Count);
    }

    [Fact]
    public async Task ReloadAsync_TheWorkerBeingReplacedCrashes_NoRestartAndTheReplacementServes()
    {
        await using var pool = new PoolHarness();
        var old = await pool.StartAsync();
        pool.Factory.OnStart = _ => { };

        var reload = pool.Pool.ReloadAsync();
        var fresh0 = await pool.Factory.NextStartedAsync();
        old[0].Crash(new InvalidOperationException("Crashed during the reload."));
        fresh0.BecomeReady();
        (await pool.Factory.NextStartedAsync()).BecomeReady();
        var result = await reload.WaitAsync(PoolHarness.WaitTimeout);
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerExitedUnexpectedly);
        await pool.QuiesceAsync();

        Assert.True(result.Succeeded);
        Assert.Equal([(0, 2), (1, 2)], pool.Serving);
        Assert.Equal(4, pool.Factory.All.Count);
        Assert.Equal(0, pool.Log.Count(WorkersEventIds.WorkerRestarted));
        Assert.Equal("Crashed during the reload.", pool.Log.Entries.Single(e => e.EventId.Id == WorkersEventIds.WorkerExitedUnexpectedly).Exception?.Message);
    }

    [Fact]
    public async Task StopAsync_DuringABoot_StopsTheBootingWorkerAndEveryOther()
    {
        var pool = new PoolHarness();
        var old = await pool.StartAsync();
        pool.Factory.OnStart = _ => { };
        var reload = pool.Pool.ReloadAsync();
        var booting = await pool.Factory.NextStartedAsync();

        using var deadline = new CancellationTokenSource(PoolHarness.WaitTimeout);
        await pool.Pool.StopAsync(pool.Options.GracefulTimeout, deadline.Token);

        Assert.False(deadline.IsCancellationRequested);
        Assert.True(booting.StopRequested);
        Assert.All(old, w => Assert.Equal((pool.Options.GracefulTimeout, false), w.Stop));
        Assert.All(pool.Factory.All, w => Assert.True(w.Unloaded));
        Assert.Empty(pool.Workers);
        var result = await reload.WaitAsync(PoolHarness.WaitTimeout);
        Assert.False(result.Succeeded);
        Assert.False(pool.Lifetime.StopRequested.IsCompleted);
        Assert.Equal(1, pool.Log.Count(WorkersEventIds.WorkersStopped));
        pool.Pool.Dispose();
    }

    [Fact]
    public async Task ReloadAsync_FailuresPastTheLimit_CrashLoopStopsTheAppWithExitCode3()
    {
        await using var pool = new PoolHarness(o => o.Restart.MaxFailures = 1);
        await pool.StartAsync();
        pool.Factory.OnStart = w => w.FailToStart(new InvalidOperationException("A broken build."));
        try
        {
            var first = await pool.Pool.ReloadAsync().WaitAsync(PoolHarness.WaitTimeout);
            Assert.False(first.Succeeded);
            Assert.False(pool.Lifetime.StopRequested.IsCompleted);

            var second = await pool.Pool.ReloadAsync().WaitAsync(PoolHarness.WaitTimeout);
            await pool.Lifetime.StopRequested.WaitAsync(PoolHarness.WaitTimeout);

            Assert.False(second.Succeeded);
            Assert.Equal(WorkersExitCodes.CrashLoop, Environment.ExitCode);
            var crashLoop = Assert.Single(pool.Log.Entries, e => e.EventId.Id == WorkersEventIds.CrashLoop);
            Assert.Contains("A broken build.", crashLoop.Exception?.InnerException?.Message, StringComparison.Ordinal);
            Assert.Equal([(0, 1), (1, 1)], pool.Serving);
        }
        finally
        {
            Environment.ExitCode = 0;
        }
    }

    [Fact]
    public async Task Recycle_RequestedDuringAScale_RunsAfterItWithNothingOfTheRequestsFlow()
    {
        await using var pool = new PoolHarness(o => o.MaxRequests = 100);
        var workers = await pool.StartAsync();
        string? seenByTheReplacement = "not created";
        pool.Factory.OnStart = _ => { };
        pool.Factory.OnCreate = w => seenByTheReplacement = w.Slot == 0 ? _requestFlow.Value : seenByTheReplacement;

        var scale = pool.Pool.ScaleAsync(3);
        var third = await pool.Factory.NextStartedAsync();
        _requestFlow.Value = "the request's flow";
        workers[0].ReachRequestLimit();
        _requestFlow.Value = null;

        await Assert.ThrowsAsync<TimeoutException>(() => pool.Log.WaitForAsync(WorkersEventIds.Recycling).WaitAsync(NegativeAssertionDelay));
        third.BecomeReady();
        await scale.WaitAsync(PoolHarness.WaitTimeout);
        var fresh = await pool.Factory.NextStartedAsync();
        fresh.BecomeReady();
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerStopped);

        Assert.Equal((0, 2), (fresh.Slot, fresh.Generation));
        Assert.Null(seenByTheReplacement);
        Assert.Equal([(0, 2), (1, 1), (2, 1)], pool.Serving);
        Assert.True(workers[0].StopRequested);
    }

    [Fact]
    public async Task ReloadAsync_TwoAskedWhileAThirdRuns_ShareOneReloadAfterIt()
    {
        await using var pool = new PoolHarness();
        await pool.StartAsync();
        pool.Factory.OnStart = _ => { };

        var first = pool.Pool.ReloadAsync();
        var booting = await pool.Factory.NextStartedAsync();
        var second = pool.Pool.ReloadAsync();
        var third = pool.Pool.ReloadAsync();
        booting.BecomeReady();
        for (var i = 0; i < 3; i++)
        {
            (await pool.Factory.NextStartedAsync()).BecomeReady();
        }

        var results = await Task.WhenAll(first, second, third).WaitAsync(PoolHarness.WaitTimeout);
        await pool.QuiesceAsync();

        Assert.All(results, r => Assert.True(r.Succeeded));
        Assert.Equal(2, pool.Log.Count(WorkersEventIds.ReloadStarting));
        Assert.Equal(6, pool.Factory.All.Count);
        Assert.Equal([(0, 3), (1, 3)], pool.Serving);
    }

    [Fact]
    public async Task ReloadAsync_ANewWorkerNeverReady_FailsAtTheStartupTimeoutAndIsGivenUpWithoutHoldingTheNextReload()
    {
        await using var pool = new PoolHarness();
        await pool.StartAsync();
        pool.Factory.OnStart = w => w.ExitsWhenStopped = false;

        var reload = pool.Pool.ReloadAsync();
        var stuck = await pool.Factory.NextStartedAsync();
        await pool.Time.WaitForArmAsync(pool.Options.StartupTimeout);
        pool.Time.Advance(pool.Options.StartupTimeout);
        var result = await reload.WaitAsync(PoolHarness.WaitTimeout);

        Assert.False(result.Succeeded);
        Assert.Contains("Worker 0 (generation 2) failed to start: Worker 0 (generation 2) was not ready within the startup timeout (00:00:10).", result.Error, StringComparison.Ordinal);
        Assert.True(stuck.StopRequested);

        pool.Factory.OnStart = w => w.BecomeReady();
        var next = await pool.Pool.ReloadAsync().WaitAsync(PoolHarness.WaitTimeout);
        Assert.True(next.Succeeded);
        Assert.Contains((0, 2, WorkerState.Draining), pool.Workers);

        pool.Time.Advance(pool.ExitDeadline);
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerDidNotExit);
        await pool.SettleAsync();

        Assert.Equal([(0, 3, WorkerState.Ready), (1, 2, WorkerState.Ready)], pool.Workers);
    }

    [Fact]
    public async Task ReloadAsync_AnOldWorkerNeverExits_TheNextReloadRunsAndTheFirstEndsWhenItIsGivenUp()
    {
        await using var pool = new PoolHarness();
        var old = await pool.StartAsync();
        old[0].ExitsWhenStopped = false;

        var first = pool.Pool.ReloadAsync();
        await pool.Log.WaitForAsync(WorkersEventIds.ReloadCompleted);
        var second = await pool.Pool.ReloadAsync().WaitAsync(PoolHarness.WaitTimeout);

        Assert.True(second.Succeeded);
        Assert.False(first.IsCompleted);
        Assert.Equal([(0, 3), (1, 3)], pool.Serving);

        pool.Time.Advance(pool.ExitDeadline);
        var result = await first.WaitAsync(PoolHarness.WaitTimeout);

        Assert.True(result.Succeeded);
        Assert.Equal(1, pool.Log.Count(WorkersEventIds.WorkerDidNotExit));
        Assert.False(old[0].Unloaded);
        Assert.DoesNotContain(pool.Workers, w => w.Generation == 1);
    }

    [Fact]
    public async Task Restart_TheNewWorkerEndsInProbation_CountsAFailureBacksOffAndAServedProbationResetsTheDelay()
    {
        await using var pool = new PoolHarness();
        var workers = await pool.StartAsync();

        workers[0].Crash(new InvalidOperationException("First crash."));
        var second = await pool.Factory.NextStartedAsync();
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerRestarted);
        Assert.Equal((0, 2), (second.Slot, second.Generation));

        second.Crash(new InvalidOperationException("Crashed in probation."));
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerRestartingAfterEarlyEnd);
        await pool.Time.WaitForArmAsync(pool.Options.Restart.Delay);
        pool.Time.Advance(pool.Options.Restart.Delay);
        var third = await pool.Factory.NextStartedAsync();
        Assert.Equal((0, 3), (third.Slot, third.Generation));

        // Served through its probation: the restart ends, so the next failure restarts at once.
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerRestarted, 2);

        // The restart arms its probation once the loop has answered its attempt: advance only after that.
        await pool.Time.WaitForArmAsync(pool.Options.Restart.ResetAfter);
        pool.Time.Advance(pool.Options.Restart.ResetAfter);
        await pool.QuiesceAsync();
        third.Crash();
        var fourth = await pool.Factory.NextStartedAsync();

        Assert.Equal((0, 4), (fourth.Slot, fourth.Generation));
        Assert.Equal(3, pool.Log.Count(WorkersEventIds.WorkerExitedUnexpectedly));
        Assert.Equal(0, pool.Log.Count(WorkersEventIds.CrashLoop));
        Assert.Single(pool.Log.Entries, e => e.EventId.Id == WorkersEventIds.WorkerRestartingAfterEarlyEnd && e.Exception is null);
    }

    [Fact]
    public async Task ChangeOptions_ANewRestartDelayAndGracefulTimeout_ApplyToWhatComesNext()
    {
        await using var pool = new PoolHarness();
        var workers = await pool.StartAsync();
        var changed = new WorkersOptions { Count = 2, GracefulTimeout = TimeSpan.FromSeconds(7), StartupTimeout = pool.Options.StartupTimeout };
        changed.Restart.UseJitter = false;
        changed.Restart.Delay = TimeSpan.FromSeconds(3);
        pool.Pool.ChangeOptions(changed);
        await pool.SettleAsync();
        pool.Factory.OnStart = w =>
        {
            if (w.Generation == 2)
            {
                w.FailToStart(new InvalidOperationException("Fails once."));
            }
            else
            {
                w.BecomeReady();
            }
        };

        workers[0].Crash();
        await pool.Time.WaitForArmAsync(TimeSpan.FromSeconds(3));
        pool.Time.Advance(TimeSpan.FromSeconds(3));
        var restarted = (await pool.Factory.NextStartedAsync(), await pool.Factory.NextStartedAsync()).Item2;

        Assert.Equal((0, 3), (restarted.Slot, restarted.Generation));
        Assert.Equal(TimeSpan.FromSeconds(7), restarted.Options.GracefulTimeout);
    }

    [Fact]
    public async Task StopAsync_AWorkerIgnoresItsStop_EndsAtItsExitDeadline()
    {
        var pool = new PoolHarness();
        var workers = await pool.StartAsync();
        workers[0].ExitsWhenStopped = false;

        var stop = pool.Pool.StopAsync(pool.Options.GracefulTimeout, CancellationToken.None);
        await workers[0].StopAsked.WaitAsync(PoolHarness.WaitTimeout);
        await Assert.ThrowsAsync<TimeoutException>(() => stop.WaitAsync(NegativeAssertionDelay));

        pool.Time.Advance(pool.ExitDeadline);
        await stop.WaitAsync(PoolHarness.WaitTimeout);

        Assert.Equal(1, pool.Log.Count(WorkersEventIds.WorkerDidNotExit));
        Assert.True(workers[1].Unloaded);
        Assert.False(workers[0].Unloaded);
        Assert.True(workers[0].GivenUp);
        Assert.False(workers[1].GivenUp);
        pool.Pool.Dispose();
    }
}
