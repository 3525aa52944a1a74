using System.Diagnostics;
using System.Net;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// Workers:ShutdownDelay, played as Kubernetes plays a rolling update: the kubelet polls readiness, sends SIGTERM, and the
/// endpoints keep routing new connections to the pod for a while before they stop.
/// </summary>
public sealed class ShutdownDelayTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task AtSigtermReadinessTurnsUnhealthyAndNewConnectionsSucceedThroughTheDelay()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal,
            ["--Workers:Count=2", $"--Workers:ShutdownDelay={Delay}", "--Workers:GracefulTimeout=00:00:05"]);
        await using var _ = app;

        using var kubelet = Http.NewConnectionPerRequest(address);
        using (var ready = await kubelet.GetAsync("/healthz/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
        }

        // Traffic on a new connection per request, as from a load balancer that still routes to the pod.
        var load = LoadGenerator.Start(address, "/", clients: 4);
        await load.WaitForMoreSuccessesAsync(20);

        var sinceSigterm = Stopwatch.StartNew();
        app.Signal(AppProcess.SigTerm);
        await app.WaitForOutputAsync(@"Stopping after a shutdown delay of 00:00:05");
        var servedBeforeTheDelay = load.Succeeded;

        // For 2 s after SIGTERM: the kubelet's readiness polls (every second) fail, the traffic goes on, and a keep-alive
        // client is asked to reconnect with every response.
        using var keepAlive = new HttpClient { BaseAddress = address, Timeout = TaskTimeoutExtensions.DefaultTimeoutValue };
        var readiness = new List<HttpStatusCode>();
        var keepAliveAskedToClose = new List<bool?>();
        using var kubeletPeriod = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            using var ready = await kubelet.GetAsync("/healthz/ready");
            readiness.Add(ready.StatusCode);
            using var response = await keepAlive.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            keepAliveAskedToClose.Add(response.Headers.ConnectionClose);
        }
        while (sinceSigterm.Elapsed < TimeSpan.FromSeconds(2) && await kubeletPeriod.WaitForNextTickAsync());

        await load.WaitForMoreSuccessesAsync(20);
        await load.DisposeAsync();
        var servedDuringTheDelay = load.Succeeded - servedBeforeTheDelay;

        Assert.Equal(0, await app.WaitForExitAsync());
        sinceSigterm.Stop();

        Assert.Empty(load.Failures);
        Assert.True(servedDuringTheDelay >= 20, $"{servedDuringTheDelay} requests were served after SIGTERM.");
        Assert.NotEmpty(readiness);
        Assert.All(readiness, status => Assert.Equal(HttpStatusCode.ServiceUnavailable, status));
        Assert.All(keepAliveAskedToClose, close => Assert.True(close));

        // The process kept serving for the whole delay, then drained; its stop is bounded by delay + graceful + 5 s.
        Assert.True(sinceSigterm.Elapsed >= Delay, $"The process exited {sinceSigterm.Elapsed} after SIGTERM, before its delay ended.");
        Assert.True(sinceSigterm.Elapsed < Delay + TimeSpan.FromSeconds(10), $"The stop took {sinceSigterm.Elapsed}.");
        Assert.Equal(1, app.CountLines(@"Stopped accepting connections\."));
    }

    [Fact]
    public async Task ASecondSigtermEndsTheDelay()
    {
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal,
            ["--Workers:Count=2", "--Workers:ShutdownDelay=00:05:00", "--Workers:GracefulTimeout=00:00:05"]);
        await using var __ = app;

        app.Signal(AppProcess.SigTerm);
        await app.WaitForOutputAsync(@"Stopping after a shutdown delay of 00:05:00");
        var sinceSecond = Stopwatch.StartNew();
        app.Signal(AppProcess.SigTerm);

        Assert.Equal(0, await app.WaitForExitAsync());
        Assert.True(sinceSecond.Elapsed < TimeSpan.FromSeconds(20), $"The stop took {sinceSecond.Elapsed} after the second SIGTERM.");
        Assert.Equal(1, app.CountLines(@"Received SIGTERM again: the shutdown delay ends now\."));
        Assert.Equal(1, app.CountLines(@"Stopped 2 workers in"));
    }
}
