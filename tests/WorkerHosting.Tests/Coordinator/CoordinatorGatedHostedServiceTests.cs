using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using WorkerHosting.Coordinator;
using WorkerHosting.Tests.Fakes;

namespace WorkerHosting.Tests.Coordinator;

public class CoordinatorGatedHostedServiceTests
{
    private static readonly string[] FullLifecycle = ["Created", "Starting", "Start", "Started", "Stopping", "Stop", "Stopped"];

    [Fact]
    public void IsStandalone_OtherServerRegistered_IsTrue()
    {
        using var services = CreateServices(withServer: true);

        var mode = new CoordinatorMode(services);

        Assert.True(mode.IsStandalone);
        Assert.Equal(WorkerRole.Standalone, mode.Context.Role);
    }

    [Fact]
    public void IsStandalone_NoServerRegistered_IsFalse()
    {
        using var services = CreateServices(withServer: false);

        var mode = new CoordinatorMode(services);

        Assert.False(mode.IsStandalone);
        Assert.Equal(WorkerRole.Coordinator, mode.Context.Role);
        Assert.Equal(-1, mode.Context.Slot);
    }

    [Fact]
    public async Task Lifecycle_StandaloneTypeDescriptor_CreatesAndRunsInner()
    {
        using var services = CreateServices(withServer: true);
        var log = services.GetRequiredService<HostedServiceLog>();
        var descriptor = ServiceDescriptor.Singleton<IHostedService, RecordingHostedService>();

        await using (var gated = new CoordinatorGatedHostedService(services, descriptor, new CoordinatorMode(services)))
        {
            await RunLifecycleAsync(gated);
            Assert.Equal(FullLifecycle, log.Events);
        }

        // The gated service created it, so it disposes it (the container never saw it).
        Assert.Equal([.. FullLifecycle, "Disposed"], log.Events);
    }

    [Fact]
    public async Task Lifecycle_StandaloneFactoryDescriptor_CreatesOnceAndRunsInner()
    {
        using var services = CreateServices(withServer: true);
        var log = services.GetRequiredService<HostedServiceLog>();
        var factoryCalls = 0;
        var descriptor = ServiceDescriptor.Singleton<IHostedService>(sp =>
        {
            factoryCalls++;
            return new RecordingHostedService(sp.GetRequiredService<HostedServiceLog>());
        });

        await using (var gated = new CoordinatorGatedHostedService(services, descriptor, new CoordinatorMode(services)))
        {
            await RunLifecycleAsync(gated);
        }

        Assert.Equal(1, factoryCalls);
        Assert.Equal([.. FullLifecycle, "Disposed"], log.Events);
    }

    [Fact]
    public async Task Lifecycle_StandaloneInstanceDescriptor_RunsInstanceAndLeavesItUndisposed()
    {
        using var services = CreateServices(withServer: true);
        var log = services.GetRequiredService<HostedServiceLog>();
        var instance = new RecordingHostedService(log);
        var descriptor = ServiceDescriptor.Singleton<IHostedService>(instance);

        await using (var gated = new CoordinatorGatedHostedService(services, descriptor, new CoordinatorMode(services)))
        {
            await RunLifecycleAsync(gated);
        }

        Assert.Equal(FullLifecycle, log.Events);
    }

    [Fact]
    public async Task Lifecycle_StandalonePlainHostedService_RunsStartAndStopOnly()
    {
        using var services = CreateServices(withServer: true);
        var log = services.GetRequiredService<HostedServiceLog>();
        var descriptor = ServiceDescriptor.Singleton<IHostedService, PlainHostedService>();

        await using (var gated = new CoordinatorGatedHostedService(services, descriptor, new CoordinatorMode(services)))
        {
            await RunLifecycleAsync(gated);
        }

        Assert.Equal(["Start", "Stop", "DisposedAsync"], log.Events);
    }

    [Fact]
    public async Task Lifecycle_NotStandaloneTypeDescriptor_NeverCreatesInner()
    {
        using var services = CreateServices(withServer: false);
        var log = services.GetRequiredService<HostedServiceLog>();
        var descriptor = ServiceDescriptor.Singleton<IHostedService, RecordingHostedService>();

        await using (var gated = new CoordinatorGatedHostedService(services, descriptor, new CoordinatorMode(services)))
        {
            await RunLifecycleAsync(gated);
        }

        Assert.Empty(log.Events);
    }

    [Fact]
    public async Task Lifecycle_NotStandaloneFactoryDescriptor_NeverCallsFactory()
    {
        using var services = CreateServices(withServer: false);
        var factoryCalls = 0;
        var descriptor = ServiceDescriptor.Singleton<IHostedService>(sp =>
        {
            factoryCalls++;
            return new RecordingHostedService(sp.GetRequiredService<HostedServiceLog>());
        });

        await using (var gated = new CoordinatorGatedHostedService(services, descriptor, new CoordinatorMode(services)))
        {
            await RunLifecycleAsync(gated);
        }

        Assert.Equal(0, factoryCalls);
        Assert.Empty(services.GetRequiredService<HostedServiceLog>().Events);
    }

    [Fact]
    public async Task Lifecycle_NotStandaloneInstanceDescriptor_NeverStartsInstance()
    {
        using var services = CreateServices(withServer: false);
        var log = services.GetRequiredService<HostedServiceLog>();
        var instance = new RecordingHostedService(log);
        var descriptor = ServiceDescriptor.Singleton<IHostedService>(instance);

        await using (var gated = new CoordinatorGatedHostedService(services, descriptor, new CoordinatorMode(services)))
        {
            await RunLifecycleAsync(gated);
        }

        Assert.Equal(["Created"], log.Events);
    }

    [Fact]
    public async Task StopAsync_StandaloneButNeverStarted_DoesNotCreateInner()
    {
        using var services = CreateServices(withServer: true);
        var descriptor = ServiceDescriptor.Singleton<IHostedService, RecordingHostedService>();

        await using (var gated = new CoordinatorGatedHostedService(services, descriptor, new CoordinatorMode(services)))
        {
            await gated.StoppingAsync(CancellationToken.None);
            await gated.StopAsync(CancellationToken.None);
            await gated.StoppedAsync(CancellationToken.None);
        }

        Assert.Empty(services.GetRequiredService<HostedServiceLog>().Events);
    }

    private static ServiceProvider CreateServices(bool withServer)
    {
        var services = new ServiceCollection();
        services.AddSingleton<HostedServiceLog>();
        if (withServer)
        {
            services.AddSingleton<IServer, FakeServer>();
        }

        return services.BuildServiceProvider();
    }

    private static async Task RunLifecycleAsync(CoordinatorGatedHostedService service)
    {
        await service.StartingAsync(CancellationToken.None);
        await service.StartAsync(CancellationToken.None);
        await service.StartedAsync(CancellationToken.None);
        await service.StoppingAsync(CancellationToken.None);
        await service.StopAsync(CancellationToken.None);
        await service.StoppedAsync(CancellationToken.None);
    }
}
