using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using WorkerHosting.Tests.Fakes;

namespace WorkerHosting.Tests.Hosting;

public class UseWorkersOptionsTests
{
    [Fact]
    public void UseWorkers_CountInCodeAndConfigurationSilent_UsesCodeValue()
    {
        var builder = CreateBuilder();

        builder.UseWorkers(4);

        Assert.Equal(4, GetOptions(builder).Count);
    }

    [Fact]
    public void UseWorkers_ConfigureInCodeAndConfigurationSilent_UsesCodeValues()
    {
        var builder = CreateBuilder();

        builder.UseWorkers(o =>
        {
            o.Count = 5;
            o.GracefulTimeout = TimeSpan.FromSeconds(12);
        });

        var options = GetOptions(builder);
        Assert.Equal(5, options.Count);
        Assert.Equal(TimeSpan.FromSeconds(12), options.GracefulTimeout);
    }

    [Fact]
    public void UseWorkers_NothingSet_UsesProcessorCountAndDefaultTimeout()
    {
        var builder = CreateBuilder();

        builder.UseWorkers();

        var options = GetOptions(builder);
        Assert.Equal(Environment.ProcessorCount, options.Count);
        Assert.Equal(TimeSpan.FromSeconds(30), options.GracefulTimeout);
    }

    [Fact]
    public void UseWorkers_CalledTwice_AppliesBothConfigurationsInOrder()
    {
        var builder = CreateBuilder();

        builder.UseWorkers(2);
        builder.UseWorkers(o => o.GracefulTimeout = TimeSpan.FromSeconds(7));

        var options = GetOptions(builder);
        Assert.Equal(2, options.Count);
        Assert.Equal(TimeSpan.FromSeconds(7), options.GracefulTimeout);
    }

    [Fact]
    public void UseWorkers_AppSettingsSetCount_OverridesCodeValue()
    {
        var builder = CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:Count"] = "6",
            ["Workers:GracefulTimeout"] = "00:00:45",
        });

        builder.UseWorkers(o =>
        {
            o.Count = 4;
            o.GracefulTimeout = TimeSpan.FromSeconds(10);
        });

        var options = GetOptions(builder);
        Assert.Equal(6, options.Count);
        Assert.Equal(TimeSpan.FromSeconds(45), options.GracefulTimeout);
    }

    [Fact]
    public void UseWorkers_ConfigurationAddedAfterUseWorkers_StillOverridesCodeValue()
    {
        var builder = CreateBuilder();

        builder.UseWorkers(4);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Workers:Count"] = "7" });

        Assert.Equal(7, GetOptions(builder).Count);
    }

    [Fact]
    public void UseWorkers_EnvironmentVariableSetCount_OverridesCodeValue()
    {
        var prefix = $"WORKERHOSTING_TEST_{Guid.NewGuid():N}_";
        var variable = prefix + "Workers__Count";
        Environment.SetEnvironmentVariable(variable, "9");
        try
        {
            var builder = CreateBuilder();
            builder.Configuration.AddEnvironmentVariables(prefix);

            builder.UseWorkers(4);

            Assert.Equal(9, GetOptions(builder).Count);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void UseWorkers_CommandLineSetsCount_OverridesCodeValue()
    {
        var builder = CreateBuilder(args: ["--Workers:Count=8"]);

        builder.UseWorkers(4);

        Assert.Equal(8, GetOptions(builder).Count);
    }

    [Fact]
    public void UseWorkers_WebApplicationBuilderCommandLineSetsCount_OverridesCodeValue()
    {
        var builder = WebApplication.CreateBuilder(["--Workers:Count=8"]);

        builder.UseWorkers(4);

        Assert.Equal(8, GetOptions(builder).Count);
    }

    [Fact]
    public void UseWorkers_CommandLineAfterAppSettings_CommandLineWins()
    {
        var builder = CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Workers:Count"] = "6" });
        builder.Configuration.AddCommandLine(["--Workers:Count=8"]);

        builder.UseWorkers(4);

        Assert.Equal(8, GetOptions(builder).Count);
    }

    [Fact]
    public void UseWorkers_UnparseableCount_ThrowsNamingKeyAndValue()
    {
        var builder = CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Workers:Count"] = "abc" });
        builder.UseWorkers(4);
        using var services = builder.Services.BuildServiceProvider();

        var exception = Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<IOptions<WorkersOptions>>().Value);

        Assert.Contains("Workers:Count", exception.Message, StringComparison.Ordinal);
        Assert.Contains("abc", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseWorkers_InvalidCountInConfiguration_ThrowsOptionsValidationExceptionNamingKey()
    {
        var builder = CreateBuilder(args: ["--Workers:Count=0"]);
        builder.UseWorkers(4);
        using var services = builder.Services.BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<WorkersOptions>>().Value);

        Assert.Contains("Workers:Count", exception.Message, StringComparison.Ordinal);
        Assert.Contains("'0'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseWorkers_InvalidGracefulTimeoutInCode_ThrowsOptionsValidationExceptionNamingKey()
    {
        var builder = CreateBuilder();
        builder.UseWorkers(o => o.GracefulTimeout = TimeSpan.Zero);
        using var services = builder.Services.BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<WorkersOptions>>().Value);

        Assert.Contains("Workers:GracefulTimeout", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseWorkers_MisspelledKeyInConfiguration_BuildThrowsNamingTheKey()
    {
        var builder = CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Workers:GracefulTimout"] = "00:01:00" });
        builder.UseWorkers(2);

        // The host's options (its shutdown timeout follows GracefulTimeout) need the Workers options, so the host fails
        // as it is built, before anything starts or binds.
        var exception = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("'Workers:GracefulTimout' (value '00:01:00') is not a WorkerHosting setting", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Check its spelling", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseWorkers_MisspelledEnvironmentVariable_ThrowsNamingTheKey()
    {
        var prefix = $"WORKERHOSTING_TEST_{Guid.NewGuid():N}_";
        var variable = prefix + "Workers__GracefulTimout";
        Environment.SetEnvironmentVariable(variable, "00:01:00");
        try
        {
            var builder = CreateBuilder();
            builder.Configuration.AddEnvironmentVariables(prefix);
            builder.UseWorkers(2);
            using var services = builder.Services.BuildServiceProvider();

            var exception = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<WorkersOptions>>().Value);

            Assert.Contains("'Workers:GracefulTimout'", exception.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void UseWorkers_MisspelledRestartKey_ThrowsNamingTheNestedKey()
    {
        var builder = CreateBuilder(args: ["--Workers:Restart:MaxDelya=00:00:10"]);
        builder.UseWorkers(2);
        using var services = builder.Services.BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<WorkersOptions>>().Value);

        Assert.Contains("'Workers:Restart:MaxDelya'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("the keys of 'Workers:Restart' are Delay, MaxDelay,", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseWorkers_MisspelledKeyInHostBuilderConfiguration_FailsBeforeStarting()
    {
        var hostBuilder = new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?> { ["Workers:MaxRequest"] = "100" }))
            .UseWorkers(2);

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            using var host = hostBuilder.Build();
            await host.StartAsync();
        });

        Assert.Contains("'Workers:MaxRequest' (value '100')", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseWorkers_EveryKeyInConfiguration_Binds()
    {
        var builder = CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:Count"] = "3",
            ["Workers:GracefulTimeout"] = "00:00:20",
            ["Workers:StartupTimeout"] = "00:00:21",
            ["Workers:MaxRequests"] = "100",
            ["Workers:MaxRequestsJitter"] = "10",
            ["Workers:Watch"] = "true",
            ["Workers:MaxLeakedWorkers"] = "2",
            ["Workers:ReleaseLeftovers"] = "true",
            ["Workers:Restart:Delay"] = "00:00:01",
            ["Workers:Restart:MaxDelay"] = "00:00:02",
            ["Workers:Restart:UseJitter"] = "false",
            ["Workers:Restart:ResetAfter"] = "00:00:03",
            ["Workers:Restart:MaxFailures"] = "4",
            ["Workers:Restart:FailureWindow"] = "00:00:05",
        });
        builder.UseWorkers(2);

        var options = GetOptions(builder);

        Assert.Equal(3, options.Count);
        Assert.Equal(TimeSpan.FromSeconds(21), options.StartupTimeout);
        Assert.True(options.ReleaseLeftovers);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Restart.MaxDelay);
        Assert.False(options.Restart.UseJitter);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Restart.FailureWindow);
    }

    [Fact]
    public void UseWorkers_ReloadBringsMisspelledKey_OptionsFactoryThrowsOptionsValidationException()
    {
        var builder = CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Workers:Count"] = "2" });
        builder.UseWorkers(4);
        using var services = builder.Services.BuildServiceProvider();
        var factory = services.GetRequiredService<IOptionsFactory<WorkersOptions>>();
        Assert.Equal(2, factory.Create(Options.DefaultName).Count);

        builder.Configuration["Workers:Cuont"] = "3";

        // WorkerCoordinator rejects a reload that throws this (and keeps the last good options), as for a bad value.
        var exception = Assert.Throws<OptionsValidationException>(() => factory.Create(Options.DefaultName));
        Assert.Contains("'Workers:Cuont' (value '3')", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseWorkers_DefaultGracefulTimeout_RaisesShutdownTimeoutToThirtyFiveSeconds()
    {
        var builder = CreateBuilder();

        builder.UseWorkers(2);

        Assert.Equal(TimeSpan.FromSeconds(35), GetHostOptions(builder).ShutdownTimeout);
    }

    [Fact]
    public void UseWorkers_GracefulTimeoutFromConfiguration_RaisesShutdownTimeoutToItPlusFiveSeconds()
    {
        var builder = CreateBuilder(args: ["--Workers:GracefulTimeout=00:01:00"]);

        builder.UseWorkers(2);

        Assert.Equal(TimeSpan.FromSeconds(65), GetHostOptions(builder).ShutdownTimeout);
    }

    [Fact]
    public void UseWorkers_ShutdownDelayFromConfiguration_AddsItToTheShutdownTimeout()
    {
        var builder = CreateBuilder(args: ["--Workers:GracefulTimeout=00:00:10", "--Workers:ShutdownDelay=00:00:07"]);

        builder.UseWorkers(2);

        Assert.Equal(TimeSpan.FromSeconds(22), GetHostOptions(builder).ShutdownTimeout);
    }

    [Fact]
    public void UseWorkers_AppSetShutdownTimeoutHigherBeforeUseWorkers_SetsItFromGracefulTimeout()
    {
        var builder = CreateBuilder();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMinutes(5));

        builder.UseWorkers(o => o.GracefulTimeout = TimeSpan.FromSeconds(10));

        // The operator's GracefulTimeout bounds the stop, down as well as up.
        Assert.Equal(TimeSpan.FromSeconds(15), GetHostOptions(builder).ShutdownTimeout);
    }

    [Fact]
    public void UseWorkers_AppSetShutdownTimeoutAfterUseWorkers_SetsItFromGracefulTimeout()
    {
        var builder = CreateBuilder();

        builder.UseWorkers(o => o.GracefulTimeout = TimeSpan.FromSeconds(10));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMinutes(5));

        Assert.Equal(TimeSpan.FromSeconds(15), GetHostOptions(builder).ShutdownTimeout);
    }

    [Fact]
    public void UseWorkers_AppSetShutdownTimeoutLowerBeforeUseWorkers_RaisesIt()
    {
        var builder = CreateBuilder();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1));

        builder.UseWorkers(o => o.GracefulTimeout = TimeSpan.FromSeconds(10));

        Assert.Equal(TimeSpan.FromSeconds(15), GetHostOptions(builder).ShutdownTimeout);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void UseWorkers_CountNotPositive_ThrowsArgumentOutOfRangeException(int count)
    {
        var builder = CreateBuilder();

        Assert.Throws<ArgumentOutOfRangeException>(() => builder.UseWorkers(count));
    }

    [Fact]
    public void UseWorkers_HostBuilderCountNotPositive_ThrowsArgumentOutOfRangeException()
    {
        var builder = Host.CreateDefaultBuilder();

        Assert.Throws<ArgumentOutOfRangeException>(() => builder.UseWorkers(0));
    }

    [Fact]
    public void UseWorkers_NullBuilder_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => ((HostApplicationBuilder)null!).UseWorkers(2));
        Assert.Throws<ArgumentNullException>(() => ((IHostBuilder)null!).UseWorkers(2));
    }

    [Fact]
    public void UseWorkers_HostBuilderBuilt_UsesCodeValueAndRaisesShutdownTimeout()
    {
        using var host = Host.CreateDefaultBuilder().UseWorkers(3).Build();

        Assert.Equal(3, host.Services.GetRequiredService<IOptions<WorkersOptions>>().Value.Count);
        Assert.Equal(TimeSpan.FromSeconds(35), host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
    }

    [Fact]
    public void UseWorkers_HostBuilderWithConfiguration_ConfigurationOverridesCodeValue()
    {
        using var host = new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?> { ["Workers:Count"] = "11" }))
            .UseWorkers(o => o.Count = 3)
            .Build();

        Assert.Equal(11, host.Services.GetRequiredService<IOptions<WorkersOptions>>().Value.Count);
    }

    [Fact]
    public void WorkerContext_BuiltHostWithoutServer_IsCoordinator()
    {
        var builder = CreateBuilder();
        builder.UseWorkers(2);
        using var host = builder.Build();

        var context = host.Services.GetRequiredService<IWorkerContext>();

        Assert.Equal(WorkerRole.Coordinator, context.Role);
        Assert.Equal(-1, context.Slot);
        Assert.Equal(0, context.Generation);
    }

    [Fact]
    public void WorkerContext_BuiltWebApplicationOnKestrel_IsCoordinator()
    {
        var builder = WebApplication.CreateBuilder();
        builder.UseWorkers(2);
        using var app = builder.Build();

        var context = app.Services.GetRequiredService<IWorkerContext>();

        Assert.Equal(WorkerRole.Coordinator, context.Role);
        Assert.Equal(-1, context.Slot);
    }

    [Fact]
    public void WorkerContext_BuiltHostBuilderWithoutServer_IsCoordinator()
    {
        using var host = Host.CreateDefaultBuilder().UseWorkers(3).Build();

        var context = host.Services.GetRequiredService<IWorkerContext>();

        Assert.Equal(WorkerRole.Coordinator, context.Role);
        Assert.Equal(-1, context.Slot);
    }

    [Fact]
    public void WorkerContext_BuiltHostWithOtherServer_IsStandalone()
    {
        var builder = CreateBuilder();
        builder.Services.AddSingleton<IServer, FakeServer>();
        builder.UseWorkers(2);
        using var host = builder.Build();

        var context = host.Services.GetRequiredService<IWorkerContext>();

        Assert.Equal(WorkerRole.Standalone, context.Role);
        Assert.Equal(0, context.Slot);
        Assert.Equal(0, context.Generation);
    }

    private static HostApplicationBuilder CreateBuilder(string[]? args = null)
        => Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });

    private static WorkersOptions GetOptions(IHostApplicationBuilder builder)
    {
        using var services = builder.Services.BuildServiceProvider();
        return services.GetRequiredService<IOptions<WorkersOptions>>().Value;
    }

    private static HostOptions GetHostOptions(HostApplicationBuilder builder)
    {
        using var services = builder.Services.BuildServiceProvider();
        return services.GetRequiredService<IOptions<HostOptions>>().Value;
    }
}
