using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// Keep-alive clients that send their next request the moment a response arrives lose nothing when workers are replaced
/// or removed: a retiring worker asks them to leave (Connection: close) before it stops, instead of closing their
/// connections under them.
/// </summary>
public sealed class KeepAliveDrainTests
{
    [Fact]
    public async Task KeepAliveClientsLoseNothingAcrossReloadsAndScaleDowns()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2"]);
        await using var _ = app;

        await using var load = KeepAliveLoad.Start(address);
        await load.WaitForMoreSuccessesAsync(500);
        for (var reload = 1; reload <= 3; reload++)
        {
            app.Signal(AppProcess.SigHup);
            await app.WaitForOutputCountAsync(@"Reloaded 2 workers in", reload);
            await app.WaitForOutputCountAsync(@"Worker [01] \(generation \d+\) stopped in", 2 * reload);
            await load.WaitForMoreSuccessesAsync(500);
        }

        app.Signal(AppProcess.SigTtin);
        await app.WaitForOutputAsync(@"Worker 2 \(generation 1\) is ready");
        await load.WaitForMoreSuccessesAsync(500);
        app.Signal(AppProcess.SigTtou);
        await app.WaitForOutputAsync(@"Worker 2 \(generation 1\) stopped in");
        app.Signal(AppProcess.SigTtou);
        await app.WaitForOutputAsync(@"Worker 1 \(generation 4\) stopped in");
        await load.WaitForMoreSuccessesAsync(500);

        Assert.Empty(load.Failures);

        // The clients were moved, not cut: replaced workers answered with Connection: close.
        Assert.True(load.ClosedByServer >= 16, $"Only {load.ClosedByServer} responses asked the client to reconnect.");
    }

    [Fact]
    public async Task KeepAliveClientsLoseNothingWhileWorkersAreRecycled()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", "--Workers:MaxRequests=1000"]);
        await using var _ = app;

        await using var load = KeepAliveLoad.Start(address);
        await app.WaitForOutputCountAsync(@"reached its limit of \d+ requests \(Workers:MaxRequests\); replacing it\.", 8);
        await app.WaitForOutputCountAsync(@"Worker [01] \(generation \d+\) stopped in", 8);
        await load.WaitForMoreSuccessesAsync(500);

        Assert.Empty(load.Failures);
        Assert.True(load.ClosedByServer > 0);
    }

    [Fact]
    public async Task Http2ClientsLoseNothingAcrossReloadsAndScaleDowns()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", "--Kestrel:EndpointDefaults:Protocols=Http2"]);
        await using var _ = app;

        await using var load = Http2Load.Start(address);
        await load.WaitForMoreSuccessesAsync(200);

        // Each retired worker is asked to close a connection that a client keeps busy: with GOAWAY and the close at
        // once, between two of its requests, the client lost the ones it was sending (about one reload in ten).
        const int Reloads = 6;
        for (var reload = 1; reload <= Reloads; reload++)
        {
            app.Signal(AppProcess.SigHup);
            await app.WaitForOutputCountAsync(@"Reloaded 2 workers in", reload);
            await app.WaitForOutputCountAsync(@"Worker [01] \(generation \d+\) stopped in", 2 * reload);
            await load.WaitForMoreSuccessesAsync(200);
        }

        app.Signal(AppProcess.SigTtin);
        await app.WaitForOutputAsync(@"Worker 2 \(generation 1\) is ready");
        await load.WaitForMoreSuccessesAsync(200);
        app.Signal(AppProcess.SigTtou);
        await app.WaitForOutputAsync(@"Worker 2 \(generation 1\) stopped in");
        await load.WaitForMoreSuccessesAsync(200);
        app.Signal(AppProcess.SigTtou);
        await app.WaitForOutputCountAsync(@"Worker 1 \(generation \d+\) stopped in", Reloads + 1);
        await load.WaitForMoreSuccessesAsync(200);

        Assert.Empty(load.Failures);
    }

    [Fact]
    public async Task Http2ClientsLoseNothingWhileWorkersAreRecycled()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", "--Workers:MaxRequests=200", "--Kestrel:EndpointDefaults:Protocols=Http2"]);
        await using var _ = app;

        await using var load = Http2Load.Start(address);
        await app.WaitForOutputCountAsync(@"reached its limit of \d+ requests \(Workers:MaxRequests\); replacing it\.", 8);
        await app.WaitForOutputCountAsync(@"Worker [01] \(generation \d+\) stopped in", 8);
        await load.WaitForMoreSuccessesAsync(200);

        Assert.Empty(load.Failures);
    }
}
