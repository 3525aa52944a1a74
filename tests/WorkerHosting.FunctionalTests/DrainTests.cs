using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

public sealed class DrainTests
{
    [Theory]
    [InlineData(AppProcess.SigTerm)]
    [InlineData(AppProcess.SigInt)]
    public async Task InFlightRequestsCompleteAcrossSignalAndTheProcessExitsZero(int signal)
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        // Two slow requests, one per worker; the headers arrive first, so both are in flight before the signal.
        var responses = await Task.WhenAll(
            client.GetAsync("/slow?ms=1500", HttpCompletionOption.ResponseHeadersRead),
            client.GetAsync("/slow?ms=1500", HttpCompletionOption.ResponseHeadersRead)).DefaultTimeout();

        app.Signal(signal);
        await app.WaitForOutputAsync("Stopped accepting connections");

        // Stop accepting: a new connection is refused while the in-flight requests finish.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, address.Port).DefaultTimeout());
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        foreach (var response in responses)
        {
            using (response)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("started\nfinished\n", await response.Content.ReadAsStringAsync().DefaultTimeout());
            }
        }

        Assert.Equal(0, await app.WaitForExitAsync());
        Assert.Equal(2, app.CountLines(@"Worker \d \(generation 1\) stopped in"));
        Assert.Equal(0, app.CountLines("did not drain"));
    }

    [Fact]
    public async Task GracefulTimeoutBoundsTheStopAndReportsWhatWasCut()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=1", "--Workers:GracefulTimeout=00:00:01"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);
        var hanging = await client.GetAsync("/hang", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();

        var stopwatch = Stopwatch.StartNew();
        app.Signal(AppProcess.SigTerm);
        var exitCode = await app.WaitForExitAsync();
        stopwatch.Stop();

        Assert.Equal(0, exitCode);

        // GracefulTimeout (1 s) plus the documented margin (5 s) bounds the whole stop.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(6), $"The stop took {stopwatch.Elapsed}.");
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(1), $"The stop took {stopwatch.Elapsed}: it did not wait for the request.");
        Assert.Equal(1, app.CountLines(@"Worker 0 \(generation 1\) did not drain within 00:00:01; aborting 1 in-flight requests on 1 open connections\."));

        // The cut request's connection was aborted: reading the rest of its body fails.
        using (hanging)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => hanging.Content.ReadAsStringAsync().DefaultTimeout());
        }
    }

    [Fact]
    public async Task StopApplicationInTheCoordinatorDrainsAndExitsZero()
    {
        await using var app = AppProcess.Start(TestApps.Minimal, ["--urls", "http://127.0.0.1:0", "--TestApp:StopAfterStart=true"]);

        Assert.Equal(0, await app.WaitForExitAsync());
        Assert.Equal(1, app.CountLines("2 of 2 workers are ready"));
        Assert.Equal(1, app.CountLines("Stopped 2 workers in"));
    }

    [Fact]
    public async Task StoppedWorkersAreUnloaded()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        // Exercise the app's types in framework caches (JSON of an app type) before stopping.
        for (var i = 0; i < 4; i++)
        {
            await client.GetStringAsync("/json");
        }

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());
        Assert.Equal(1, app.CountLines(@"Worker 0 \(generation 1\) was unloaded\."));
        Assert.Equal(1, app.CountLines(@"Worker 1 \(generation 1\) was unloaded\."));
        Assert.Equal(0, app.CountLines("load context is still alive"));
    }

    [Fact]
    public async Task MvcWorkersUnloadAfterAReloadOnceFrameworkCachesAreCleared()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Mvc);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        // Views, JSON of app types, and model binding of an app type put app types in the framework's caches
        // (TypeDescriptor, PropertyHelper, ParameterBindingMethodCache, System.Text.Json).
        for (var i = 0; i < 4; i++)
        {
            await client.GetStringAsync("/");
            await client.GetStringAsync("/api/products");
            using var created = await client.PostAsync("/api/products", System.Net.Http.Json.JsonContent.Create(new { id = 3, name = "Cup", price = 2.5m }));
        }

        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputAsync("Reloaded 2 workers in");
        await app.WaitForOutputCountAsync(@"Worker [01] \(generation 1\) was (unloaded\.|unloaded but its load context is still alive)", 2);

        Assert.Equal(2, app.CountLines(@"Worker [01] \(generation 1\) was unloaded\."));
        Assert.Equal(0, app.CountLines("load context is still alive"));
    }
}
