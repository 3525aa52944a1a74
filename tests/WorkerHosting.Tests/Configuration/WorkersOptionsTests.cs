using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace WorkerHosting.Tests.Configuration;

public class WorkersOptionsTests
{
    [Fact]
    public void Count_Default_IsProcessorCount()
    {
        var options = new WorkersOptions();

        Assert.Equal(Environment.ProcessorCount, options.Count);
    }

    [Fact]
    public void GracefulTimeout_Default_IsThirtySeconds()
    {
        var options = new WorkersOptions();

        Assert.Equal(TimeSpan.FromSeconds(30), options.GracefulTimeout);
    }

    [Fact]
    public void StartupTimeout_Default_IsThirtySeconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), new WorkersOptions().StartupTimeout);
    }

    [Fact]
    public void MaxRequests_Default_IsZero()
    {
        Assert.Equal(0, new WorkersOptions().MaxRequests);
    }

    [Fact]
    public void MaxRequestsJitter_Default_IsZero()
    {
        Assert.Equal(0, new WorkersOptions().MaxRequestsJitter);
    }

    [Fact]
    public void ReleaseLeftovers_Default_IsFalse()
    {
        Assert.False(new WorkersOptions().ReleaseLeftovers);
    }

    [Fact]
    public void MaxLeakedWorkers_Default_IsFive()
    {
        Assert.Equal(5, new WorkersOptions().MaxLeakedWorkers);
    }

    [Fact]
    public void Watch_Default_IsFalse()
    {
        Assert.False(new WorkersOptions().Watch);
    }

    [Fact]
    public void Restart_Defaults_AreHalfSecondDoublingToThirtySecondsWithJitterAndFiveFailuresPerMinute()
    {
        var restart = new WorkersOptions().Restart;

        Assert.NotNull(restart);
        Assert.Equal(TimeSpan.FromMilliseconds(500), restart.Delay);
        Assert.Equal(TimeSpan.FromSeconds(30), restart.MaxDelay);
        Assert.True(restart.UseJitter);
        Assert.Equal(TimeSpan.FromSeconds(30), restart.ResetAfter);
        Assert.Equal(5, restart.MaxFailures);
        Assert.Equal(TimeSpan.FromMinutes(1), restart.FailureWindow);
    }

    [Fact]
    public void UseWorkers_RestartAndMaxRequestsInConfiguration_Bind()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Workers:Restart:MaxFailures"] = "7",
            ["Workers:Restart:Delay"] = "00:00:02",
            ["Workers:MaxRequests"] = "100",
        });

        builder.UseWorkers(2);

        using var services = builder.Services.BuildServiceProvider();
        var options = services.GetRequiredService<IOptions<WorkersOptions>>().Value;
        Assert.Equal(7, options.Restart.MaxFailures);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Restart.Delay);
        Assert.Equal(100, options.MaxRequests);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Restart.FailureWindow);
    }

    [Fact]
    public void SectionName_Constant_IsWorkers()
    {
        Assert.Equal("Workers", WorkersOptions.SectionName);
    }
}
