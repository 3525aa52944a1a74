using WorkerHosting.Configuration;
using WorkerHosting.Diagnostics;
using WorkerHosting.Tests.Coordinator;
using WorkerHosting.Tests.Fakes;

namespace WorkerHosting.Tests.Lifecycle;

/// <summary>
/// The app's lifecycle hooks (<see cref="IWorkerLifecycleObserver"/>), through the pool, with fake workers and a fake
/// clock: they fire in the documented order, and one that throws or hangs never holds the pool.
/// </summary>
public sealed class LifecycleHooksTests
{
    [Fact]
    public async Task Hooks_StartReloadAndStop_FireInTheDocumentedOrder()
    {
        var pool = new PoolHarness();
        var observer = new RecordingObserver();
        pool.Observers.Add(observer);

        // Start: the workers boot at once and become ready in any order (here slot 1 first).
        pool.Factory.OnStart = _ => { };
        var start = pool.Pool.StartAsync(CancellationToken.None);
        var first0 = await pool.Factory.NextStartedAsync();
        var first1 = await pool.Factory.NextStartedAsync();
        first1.BecomeReady();
        await observer.WaitForAsync("Ready 1/1");
        first0.BecomeReady();
        await start.WaitAsync(PoolHarness.WaitTimeout);
        await observer.WaitForAsync("PoolReady 2/2");

        Assert.Equal(["PoolStarting 2", "Booting 0/1", "Booting 1/1", "Ready 1/1", "Ready 0/1", "PoolReady 2/2"], observer.Events);

        // Reload: slot by slot, each new worker ready before the next boots; the old ones exit; then the reload ends.
        pool.Factory.OnStart = w => w.BecomeReady();
        var reload = await pool.Pool.ReloadAsync().WaitAsync(PoolHarness.WaitTimeout);
        Assert.True(reload.Succeeded);
        await observer.WaitForAsync("ReloadEnded succeeded 2");

        // The loop applies one command at a time: the old workers' exits come after the reload's last boot, in the
        // order they exit (they drain at once), and the reload ends after them.
        var reloadEvents = observer.Events.Skip(6).ToArray();
        Assert.Equal(["ReloadStarting 2", "Booting 0/2", "Ready 0/2", "Booting 1/2", "Ready 1/2"], reloadEvents[..5]);
        Assert.Equal(["Exited 0/1 Reload", "Exited 1/1 Reload"], reloadEvents[5..7].Order());
        Assert.Equal(["ReloadEnded succeeded 2"], reloadEvents[7..]);

        // Stop: the pool stops, its workers exit, and the stop waits for the last hook.
        using var deadline = new CancellationTokenSource(PoolHarness.WaitTimeout);
        await pool.Pool.StopAsync(pool.Options.GracefulTimeout, deadline.Token);

        Assert.False(deadline.IsCancellationRequested);
        var stopEvents = observer.Events.Skip(14).ToArray();
        Assert.Equal("PoolStopping 2/2", stopEvents[0]);
        Assert.Equal(["Exited 0/2 Stop", "Exited 1/2 Stop"], stopEvents[1..3].Order());
        Assert.Equal(["PoolStopped"], stopEvents[3..]);
        pool.Pool.Dispose();
    }

    [Fact]
    public async Task Hooks_ScaleRestartAndAFailedReload_FireInOrderWithTheReasons()
    {
        await using var pool = new PoolHarness();
        var observer = new RecordingObserver();
        pool.Observers.Add(observer);
        var workers = await pool.StartAsync();
        await observer.WaitForAsync("PoolReady 2/2");
        var started = observer.Events.Count;

        await pool.Pool.ScaleAsync(3).WaitAsync(PoolHarness.WaitTimeout);
        await pool.Pool.ScaleAsync(2).WaitAsync(PoolHarness.WaitTimeout);
        await observer.WaitForAsync("Exited 2/1 Scale");

        // A crash: the exit (with its exception), then the slot's restart.
        workers[0].Crash(new InvalidOperationException("Crashed."));
        await observer.WaitForAsync("Ready 0/2");

        // A reload whose first new worker fails to start: the failure is its exit, and the reload ends at once.
        pool.Factory.OnStart = w => w.FailToStart(new InvalidOperationException("A broken build."));
        var reload = await pool.Pool.ReloadAsync().WaitAsync(PoolHarness.WaitTimeout);
        Assert.False(reload.Succeeded);
        await observer.WaitForAsync("Exited 0/3 Failure (A broken build.)");

        Assert.Equal(
        [
            "CountChanged 2->3", "Booting 2/1", "Ready 2/1",
            "CountChanged 3->2", "Exited 2/1 Scale",
            "Exited 0/1 Failure (Crashed.)", "Booting 0/2", "Ready 0/2",
            "ReloadStarting 2", "Booting 0/3", "ReloadEnded failed 0", "Exited 0/3 Failure (A broken build.)",
        ],
            observer.Events.Skip(started));
    }

    [Fact]
    public async Task Hooks_Recycle_TheReplacementIsReadyBeforeTheOldWorkerExits()
    {
        await using var pool = new PoolHarness(o => o.MaxRequests = 100);
        var observer = new RecordingObserver();
        pool.Observers.Add(observer);
        var workers = await pool.StartAsync();
        await observer.WaitForAsync("PoolReady 2/2");
        var started = observer.Events.Count;

        workers[1].RequestsServed = 100;
        workers[1].ReachRequestLimit();
        await observer.WaitForAsync("Exited 1/1 Recycle");

        Assert.Equal(["Booting 1/2", "Ready 1/2", "Exited 1/1 Recycle"], observer.Events.Skip(started));
    }

    [Fact]
    public async Task Hooks_AWorkerThatNeverExits_IsReportedGivenUpAtItsExitDeadline()
    {
        await using var pool = new PoolHarness();
        var observer = new RecordingObserver();
        pool.Observers.Add(observer);
        var workers = await pool.StartAsync();
        workers[1].ExitsWhenStopped = false;

        var scale = pool.Pool.ScaleAsync(1);
        await workers[1].StopAsked.WaitAsync(PoolHarness.WaitTimeout);
        await pool.Time.WaitForArmAsync(pool.ExitDeadline);
        pool.Time.Advance(pool.ExitDeadline);
        await scale.WaitAsync(PoolHarness.WaitTimeout);

        await observer.WaitForAsync("Exited 1/1 Scale given up");
    }

    [Fact]
    public async Task Hooks_OneThrows_IsLoggedAndEveryOtherHookAndThePoolGoOn()
    {
        await using var pool = new PoolHarness();
        var throwing = new RecordingObserver { OnEvent = (line, _) => line.StartsWith("Booting", StringComparison.Ordinal) ? throw new InvalidOperationException("A broken hook.") : Task.CompletedTask };
        var faulting = new RecordingObserver { OnEvent = (line, _) => line.StartsWith("Ready", StringComparison.Ordinal) ? Task.FromException(new InvalidOperationException("A faulted hook.")) : Task.CompletedTask };
        var after = new RecordingObserver();
        pool.Observers.AddRange([throwing, faulting, after]);

        await pool.StartAsync();
        await after.WaitForAsync("PoolReady 2/2");

        Assert.Equal([(0, 1), (1, 1)], pool.Serving);
        Assert.Equal(throwing.Events, after.Events);
        Assert.Equal(faulting.Events, after.Events);
        Assert.Equal(6, after.Events.Count);
        var failures = pool.Log.Entries.Where(e => e.EventId.Id == WorkersEventIds.HookFailed).ToArray();
        Assert.Equal(["A broken hook.", "A broken hook.", "A faulted hook.", "A faulted hook."], failures.Select(f => f.Exception?.Message).Order());
        Assert.All(failures, f => Assert.Contains(typeof(RecordingObserver).FullName!, f.Message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Hooks_OneHangs_ThePoolGoesOnAndTheNextHookRunsAtTheTimeout(bool blocksItsThread)
    {
        await using var pool = new PoolHarness();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        CancellationToken hungToken = default;
        var hanging = new RecordingObserver
        {
            OnEvent = (line, cancellationToken) =>
            {
                if (line != "PoolStarting 2")
                {
                    return Task.CompletedTask;
                }

                // App code that ignores its token: awaiting, or blocking its thread before it returns a task.
                hungToken = cancellationToken;
                if (blocksItsThread)
                {
                    release.Task.Wait(CancellationToken.None);
                    return Task.CompletedTask;
                }

                return release.Task;
            },
        };
        var after = new RecordingObserver();
        pool.Observers.AddRange([hanging, after]);
        try
        {
            // The pool starts and scales while the first hook hangs: no clock moves.
            await pool.StartAsync();
            await pool.Pool.ScaleAsync(3).WaitAsync(PoolHarness.WaitTimeout);
            Assert.Equal([(0, 1), (1, 1), (2, 1)], pool.Serving);
            Assert.Equal(["PoolStarting 2"], hanging.Events);
            Assert.Empty(after.Events);

            // At the timeout, the hung call's token is cancelled and the hooks after it run, in order.
            await pool.Time.WaitForArmAsync(WorkersDefaults.HookTimeout);
            pool.Time.Advance(WorkersDefaults.HookTimeout);
            await after.WaitForAsync("Ready 2/1");

            Assert.True(hungToken.IsCancellationRequested);
            Assert.Equal(1, pool.Log.Count(WorkersEventIds.HookTimedOut));
            Assert.Equal("PoolStarting 2", after.Events[0]);
            Assert.Equal(hanging.Events, after.Events);
            Assert.Equal(["CountChanged 2->3", "Booting 2/1", "Ready 2/1"], after.Events.TakeLast(3));
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task Hooks_ObserversCannotBeCreated_LoggedOnceAndThePoolRuns()
    {
        await using var pool = new PoolHarness();
        pool.ResolveObservers = () => throw new InvalidOperationException("Unable to resolve service for type 'IClock'.");

        await pool.StartAsync();
        await pool.Pool.ScaleAsync(3).WaitAsync(PoolHarness.WaitTimeout);
        await pool.Log.WaitForAsync(WorkersEventIds.HookObserversUnavailable);

        Assert.Equal(3, pool.Serving.Length);
        Assert.Equal("Unable to resolve service for type 'IClock'.", Assert.Single(pool.Log.Entries, e => e.EventId.Id == WorkersEventIds.HookObserversUnavailable).Exception?.Message);
    }
}
