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
    public async Task Http2ClientsLoseNothingAcrossReloads()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", "--Kestrel:EndpointDefaults:Protocols=Http2"]);
        await using var _ = app;

        // HTTP/2 over cleartext with prior knowledge; one connection, many streams, as gRPC clients use it.
        using var client = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
        {
            BaseAddress = address,
            DefaultRequestVersion = System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        long succeeded = 0;
        var progress = (Target: long.MaxValue, Reached: new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        var progressLock = new Lock();
        Task MoreSuccesses(long count)
        {
            lock (progressLock)
            {
                progress = (Interlocked.Read(ref succeeded) + count, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                return progress.Reached.Task.DefaultTimeout();
            }
        }

        void OnSucceeded()
        {
            var count = Interlocked.Increment(ref succeeded);
            lock (progressLock)
            {
                if (count >= progress.Target)
                {
                    progress.Reached.TrySetResult();
                }
            }
        }

        var clients = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync("/", stop.Token);
                    if (response.IsSuccessStatusCode && response.Version == System.Net.HttpVersion.Version20)
                    {
                        OnSucceeded();
                    }
                    else
                    {
                        failures.Enqueue($"{(int)response.StatusCode} over HTTP/{response.Version}");
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (HttpRequestException e)
                {
                    failures.Enqueue(e.Message);
                }
            }
        })).ToArray();

        await MoreSuccesses(200);
        for (var reload = 1; reload <= 3; reload++)
        {
            app.Signal(AppProcess.SigHup);
            await app.WaitForOutputCountAsync(@"Reloaded 2 workers in", reload);
            await app.WaitForOutputCountAsync(@"Worker [01] \(generation \d+\) stopped in", 2 * reload);
            await MoreSuccesses(200);
        }

        await stop.CancelAsync();
        await Task.WhenAll(clients);

        Assert.Empty(failures);
        Assert.True(succeeded > 100, $"Only {succeeded} requests succeeded.");
    }
}
