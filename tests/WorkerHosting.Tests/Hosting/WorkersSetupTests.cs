using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using WorkerHosting.Coordinator;
using WorkerHosting.Listeners;
using WorkerHosting.Tests.Fakes;

namespace WorkerHosting.Tests.Hosting;

/// <summary>What a built (never started) coordinator host holds once UseWorkers has run.</summary>
public class WorkersSetupTests
{
    [Fact]
    public void Build_AppHostedServicesRegisteredBeforeAndAfterUseWorkers_AreGatedInCoordinator()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<HostedServiceLog>();
        builder.Services.AddHostedService<RecordingHostedService>();
        builder.UseWorkers(2);
        builder.Services.AddHostedService(sp => new PlainHostedService(sp.GetRequiredService<HostedServiceLog>()));
        using var host = builder.Build();

        var hostedServices = host.Services.GetServices<IHostedService>().ToList();

        Assert.DoesNotContain(hostedServices, s => s is RecordingHostedService or PlainHostedService);
        Assert.Equal(2, hostedServices.Count(s => s is CoordinatorGatedHostedService));
        Assert.Single(hostedServices, s => s is WorkerCoordinator);
        Assert.Empty(host.Services.GetRequiredService<HostedServiceLog>().Events);
    }

    [Fact]
    public void Build_WebApplication_KeepsWebHostServiceUngatedAndUsesCoordinatorTransport()
    {
        var builder = WebApplication.CreateBuilder();
        builder.UseWorkers(2);
        using var app = builder.Build();

        var hostedServices = app.Services.GetServices<IHostedService>().ToList();

        Assert.Single(hostedServices, s => s.GetType().FullName == "Microsoft.AspNetCore.Hosting.GenericWebHostService");
        Assert.Single(hostedServices, s => s is WorkerCoordinator);
        Assert.DoesNotContain(hostedServices, s => s is CoordinatorGatedHostedService);
        var transport = Assert.Single(app.Services.GetServices<IConnectionListenerFactory>());
        Assert.IsType<CoordinatorConnectionListenerFactory>(transport);
        Assert.Empty(app.Services.GetServices<IMultiplexedConnectionListenerFactory>());
    }

    [Fact]
    public void Build_AppConfiguresSocketTransport_SharedEndpointsUseItsSettings()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseSockets(o =>
        {
            o.Backlog = 1000;
            o.NoDelay = false;
            o.IOQueueCount = 1;
        });
        builder.UseWorkers(2);
        using var app = builder.Build();

        var settings = app.Services.GetRequiredService<SocketTransportSettings>();
        var shared = app.Services.GetRequiredService<SharedEndpoints>().Bind(new IPEndPoint(IPAddress.Loopback, 0));

        Assert.Equal(1000, settings.Backlog);
        Assert.False(settings.NoDelay);
        Assert.Equal(1, settings.CreateConnectionFactoryOptions().IOQueueCount);
        Assert.Same(settings, shared.Settings);
    }

    [Fact]
    public void Build_LoggingThatAsksForTheWorkerContextWhileTheServerIsCreated_ResolvesTheCoordinatorContext()
    {
        // Serilog's AddSerilog((services, logger) => ...) runs when the logger factory is created, which Kestrel needs:
        // enriching the log with the worker's id must not need the server first.
        var builder = WebApplication.CreateBuilder();
        builder.UseWorkers(2);
        IWorkerContext? seenByLogging = null;
        builder.Services.AddSingleton<Microsoft.Extensions.Logging.ILoggerFactory>(sp =>
        {
            seenByLogging = sp.GetRequiredService<IWorkerContext>();
            return new Microsoft.Extensions.Logging.LoggerFactory();
        });
        using var app = builder.Build();

        _ = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>();

        Assert.NotNull(seenByLogging);
        Assert.Equal(WorkerRole.Coordinator, seenByLogging.Role);
    }

    [Fact]
    public void Build_HostWithoutUseWorkers_IsLeftAlone()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<HostedServiceLog>();
        builder.Services.AddHostedService<RecordingHostedService>();
        using var host = builder.Build();

        var hostedService = Assert.Single(host.Services.GetServices<IHostedService>());

        Assert.IsType<RecordingHostedService>(hostedService);
        Assert.Null(host.Services.GetService<IWorkerContext>());
    }

    [Fact]
    public void Build_BuilderGivenArgs_WorkersGetThoseArgsNotTheProcessCommandLine()
    {
        // An app started from code (a test, a benchmark) gives its builder arguments the process never had.
        var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0", "--Custom:Key=value"]);
        builder.UseWorkers(2);
        using var app = builder.Build();

        var application = app.Services.GetRequiredService<WorkerHosting.Workers.WorkerApplication>();

        Assert.Equal(["--urls", "http://127.0.0.1:0", "--Custom:Key=value", "--hostBuilder:reloadConfigOnChange=false"], application.Args);
    }

    [Fact]
    public void Build_HostBuilderGivenArgs_WorkersGetThoseArgs()
    {
        using var host = Host.CreateDefaultBuilder(["--Custom:Key=value"]).UseWorkers(2).Build();

        var application = host.Services.GetRequiredService<WorkerHosting.Workers.WorkerApplication>();

        Assert.Equal(["--Custom:Key=value", "--hostBuilder:reloadConfigOnChange=false"], application.Args);
    }
}
