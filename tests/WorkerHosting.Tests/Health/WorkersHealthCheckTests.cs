using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using WorkerHosting.Diagnostics;
using WorkerHosting.Health;
using WorkerHosting.Tests.Coordinator;

namespace WorkerHosting.Tests.Health;

public class WorkersHealthCheckTests
{
    [Theory]
    [InlineData(false, 4, 4, 0, HealthStatus.Healthy)]
    [InlineData(false, 4, 3, 1, HealthStatus.Degraded)]
    [InlineData(false, 4, 3, 0, HealthStatus.Degraded)]
    [InlineData(false, 4, 0, 4, HealthStatus.Unhealthy)]
    [InlineData(true, 4, 4, 0, HealthStatus.Unhealthy)]
    [InlineData(true, 4, 2, 2, HealthStatus.Unhealthy)]
    public void Status_FollowsReadySlotsAndTheStop(bool stopping, int slots, int ready, int restarting, HealthStatus expected)
    {
        Assert.Equal(expected, new WorkersReadiness(stopping, slots, ready, restarting).Status);
    }

    [Fact]
    public async Task Check_EverySlotReady_IsHealthy()
    {
        await using var pool = new PoolHarness();
        await pool.StartAsync();

        var result = await CheckAsync(pool);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal("All 2 slots have a ready worker.", result.Description);
        Assert.Equal(2, result.Data["readySlots"]);
    }

    [Fact]
    public async Task Check_ASlotRestarting_IsDegradedUntilItsWorkerIsReady()
    {
        await using var pool = new PoolHarness();
        var workers = await pool.StartAsync();
        pool.Factory.OnStart = w => w.FailToStart(new InvalidOperationException("Still broken."));

        workers[1].Crash(new InvalidOperationException("Crashed."));
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerRestarting);
        await pool.Time.WaitForArmAsync(pool.Options.Restart.Delay);

        var restarting = await CheckAsync(pool);
        Assert.Equal(HealthStatus.Degraded, restarting.Status);
        Assert.Equal("1 of 2 slots have a ready worker (1 restarting).", restarting.Description);
        Assert.Equal(1, restarting.Data["restartingSlots"]);

        pool.Factory.OnStart = w => w.BecomeReady();
        pool.Time.Advance(pool.Options.Restart.Delay);
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerRestarted);

        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(pool)).Status);
    }

    [Fact]
    public async Task Check_NoWorkerReady_IsUnhealthy()
    {
        await using var pool = new PoolHarness(o => o.Count = 1);
        var workers = await pool.StartAsync();
        pool.Factory.OnStart = w => w.FailToStart(new InvalidOperationException("Still broken."));

        workers[0].Crash(new InvalidOperationException("Crashed."));
        await pool.Log.WaitForAsync(WorkersEventIds.WorkerRestarting);

        var result = await CheckAsync(pool);
        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("No worker is ready (0 of 1 slots).", result.Description);
    }

    [Fact]
    public async Task Check_OnceTheProcessStops_IsUnhealthyWithEveryWorkerStillReady()
    {
        await using var pool = new PoolHarness();
        await pool.StartAsync();

        pool.Pool.Shutdown.BeginStopping();

        var result = await CheckAsync(pool);
        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal(true, result.Data["stopping"]);
        Assert.Equal(2, result.Data["readySlots"]);
    }

    [Fact]
    public async Task Check_Unhealthy_ReportsTheRegistrationsFailureStatus()
    {
        await using var pool = new PoolHarness();
        await pool.StartAsync();
        pool.Pool.Shutdown.BeginStopping();

        var result = await CheckAsync(pool, HealthStatus.Degraded);

        Assert.Equal(HealthStatus.Degraded, result.Status);
    }

    [Fact]
    public async Task Check_Standalone_IsHealthyUntilTheHostStops()
    {
        using var lifetime = new StoppableLifetime();
        var check = new WorkersHealthCheck(pool: null, lifetime);
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration("workers", check, null, null) };

        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(context)).Status);

        lifetime.StopApplication();

        Assert.Equal(HealthStatus.Unhealthy, (await check.CheckHealthAsync(context)).Status);
    }

    [Fact]
    public void AddWorkersCheck_RegistersWorkersTaggedReady()
    {
        var services = new ServiceCollection();

        services.AddHealthChecks().AddWorkersCheck();

        using var provider = services.BuildServiceProvider();
        var registration = Assert.Single(provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<HealthCheckServiceOptions>>().Value.Registrations);
        Assert.Equal("workers", registration.Name);
        Assert.Equal(["ready"], registration.Tags);
        Assert.Equal(HealthStatus.Unhealthy, registration.FailureStatus);
    }

    private static Task<HealthCheckResult> CheckAsync(PoolHarness pool, HealthStatus? failureStatus = null)
    {
        using var lifetime = new StoppableLifetime();
        var check = new WorkersHealthCheck(pool.Pool, lifetime);
        var registration = new HealthCheckRegistration("workers", check, failureStatus, ["ready"]);
        return check.CheckHealthAsync(new HealthCheckContext { Registration = registration });
    }

    private sealed class StoppableLifetime : IHostApplicationLifetime, IDisposable
    {
        private readonly CancellationTokenSource _stopping = new();

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => _stopping.Token;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => _stopping.Cancel();

        public void Dispose() => _stopping.Dispose();
    }
}
