using System.Net;
using System.Net.Sockets;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

public sealed class StartupFailureTests
{
    [Theory]
    [InlineData("--Workers:Count=0", "Workers:Count", "'0'")]
    [InlineData("--Workers:Count=-3", "Workers:Count", "'-3'")]
    [InlineData("--Workers:GracefulTimeout=-00:00:05", "Workers:GracefulTimeout", "'-00:00:05'")]
    [InlineData("--Workers:GracefulTimeout=00:00:00", "Workers:GracefulTimeout", "'00:00:00'")]
    [InlineData("--Workers:Count=four", "Workers:Count", "'four'")]
    [InlineData("--Workers:GracefulTimeout=soon", "Workers:GracefulTimeout", "'soon'")]
    [InlineData("--Workers:GracefulTimout=00:01:00", "'Workers:GracefulTimout'", "'00:01:00'")]
    [InlineData("--Workers:Restart:MaxDelya=00:00:10", "'Workers:Restart:MaxDelya'", "'00:00:10'")]
    public async Task BadConfigurationStopsTheProcessBeforeBindingAndNamesTheKeyAndValue(string argument, string key, string value)
    {
        await using var app = AppProcess.Start(TestApps.Minimal, ["--urls", "http://127.0.0.1:0", argument]);

        Assert.NotEqual(0, await app.WaitForExitAsync());
        Assert.Contains(key, app.Output, StringComparison.Ordinal);
        Assert.Contains(value, app.Output, StringComparison.Ordinal);
        Assert.Equal(0, app.CountLines("Now listening on"));
        Assert.Equal(0, app.CountLines("is booting"));
    }

    [Fact]
    public async Task EnvironmentConfigurationIsValidatedToo()
    {
        await using var app = AppProcess.Start(TestApps.Minimal, ["--urls", "http://127.0.0.1:0"], new Dictionary<string, string?> { ["Workers__Count"] = "0" });

        Assert.NotEqual(0, await app.WaitForExitAsync());
        Assert.Contains("Workers:Count must be between 1 and 1024; '0' was given.", app.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PortInUseFailsWithAnErrorNamingTheEndpoint()
    {
        // A listener of another program, bound without SO_REUSEPORT.
        using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        other.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        other.Listen();
        var port = ((IPEndPoint)other.LocalEndPoint!).Port;

        await using var app = AppProcess.Start(TestApps.Minimal, ["--urls", $"http://127.0.0.1:{port}"]);

        Assert.NotEqual(0, await app.WaitForExitAsync());
        Assert.Contains($"Failed to bind to address http://127.0.0.1:{port}: address already in use.", app.Output, StringComparison.Ordinal);
        Assert.Equal(0, app.CountLines("is booting"));
    }

    [Fact]
    public async Task WhenNoWorkerCanStartTheProcessExitsNonZeroWithTheException()
    {
        await using var app = AppProcess.Start(TestApps.Minimal, ["--urls", "http://127.0.0.1:0", "--TestApp:ThrowOnStart=true"]);

        Assert.NotEqual(0, await app.WaitForExitAsync());
        // One exception carries every worker's failure (the host logs it; the runtime prints it as Main's).
        Assert.Contains(
            "None of the 2 workers could start. Worker 0 (generation 1) failed to start: TestApp refuses to start (TestApp:ThrowOnStart). Worker 1 (generation 1) failed to start: TestApp refuses to start (TestApp:ThrowOnStart).",
            app.Output, StringComparison.Ordinal);
        Assert.Equal(0, app.CountLines("restarting its slot"));
    }
}
