using System.Diagnostics;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

public sealed class WorkerLifecycleTests
{
    [Theory]
    [InlineData("/exit", "the app calls StopApplication in the worker")]
    [InlineData("/fail-background", "a BackgroundService throws and stops the worker's host")]
    public async Task AWorkerThatEndsOnItsOwnIsReplacedInItsSlotWhileTheOthersServe(string path, string because)
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        using var ended = await client.PostAsync(path, null);
        Assert.True(ended.IsSuccessStatusCode, because);
        var slot = int.Parse(await ended.Content.ReadAsStringAsync(), System.Globalization.CultureInfo.InvariantCulture);
        var other = 1 - slot;

        await app.WaitForOutputAsync($@"Worker {slot} \(generation 2\) replaces the worker that ended\.");
        Assert.Equal(1, app.CountLines($@"Worker {slot} \(generation 1\) ended on its own\."));

        var expected = new[] { (slot, 2), (other, 1) }.Order().ToArray();
        var workers = await client.GetJsonAsync<WorkerSnapshot[]>("/workers");
        Assert.Equal(expected, workers.Select(w => (w.Slot, w.Generation)));
        var seen = new HashSet<(int, int)>();
        for (var i = 0; i < 6; i++)
        {
            var info = await client.GetJsonAsync<WorkerInfo>("/");
            seen.Add((info.Slot, info.Generation));
        }

        Assert.Equal(expected, seen.Order());
    }

    [Fact]
    public async Task ACrashLoopEndsTheProcessWithExitCode3AndTheLastFailure()
    {
        using var marker = TempFile.Create("fail");
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal,
        [
            "--Workers:Count=1", $"--TestApp:FailStartIfExists={marker.Path}",
            "--Workers:Restart:Delay=00:00:00.050", "--Workers:Restart:MaxDelay=00:00:00.200", "--Workers:Restart:MaxFailures=2",
        ]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        // From now on new workers fail to boot; the running one ends, and its slot restarts into failures.
        await File.WriteAllTextAsync(marker.Path, "fail");
        using var ended = await client.PostAsync("/exit", null);

        Assert.Equal(3, await app.WaitForExitAsync());
        // Generations 2 and 3 fail and are retried; generation 4's failure is the crash loop's last.
        Assert.Equal(2, app.CountLines(@"Worker 0 \(generation [23]\) failed to start; restarting its slot in"));
        Assert.Equal(1, app.CountLines(@"Worker 0 \(generation 4\) failed to start: TestApp refuses to start"));
        Assert.Equal(1, app.CountLines(@"Workers failed more than 2 times within 00:01:00: a crash loop\. Stopping with exit code 3"));
        Assert.Contains($"TestApp refuses to start: '{marker.Path}' exists.", app.Output.Split("a crash loop")[1], StringComparison.Ordinal);
        Assert.True(app.CountLines("restarting its slot in") >= 2);
    }

    [Fact]
    public async Task AWorkerNotReadyWithinStartupTimeoutFailsToStart()
    {
        using var marker = TempFile.Create("slow");
        await File.WriteAllTextAsync(marker.Path, "slow");
        await using var app = AppProcess.Start(TestApps.Minimal,
        [
            "--urls", "http://127.0.0.1:0", "--Workers:Count=1", "--Workers:StartupTimeout=00:00:01",
            $"--TestApp:DelayStartIfExists={marker.Path}", "--TestApp:DelayStartMs=60000",
        ]);

        Assert.NotEqual(0, await app.WaitForExitAsync());
        Assert.Contains("Worker 0 (generation 1) was not ready within the startup timeout (00:00:01)", app.Output, StringComparison.Ordinal);
        Assert.Contains("None of the 1 workers could start", app.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignalsAndThePoolScaleTheWorkersNeverBelowOne()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        app.Signal(AppProcess.SigTtin);
        await app.WaitForOutputAsync("Scaling from 2 to 3 workers");
        await app.WaitForOutputAsync(@"Worker 2 \(generation 1\) is ready");
        Assert.Equal([0, 1, 2], (await client.GetJsonAsync<WorkerSnapshot[]>("/workers")).Select(w => w.Slot));

        app.Signal(AppProcess.SigTtou);
        await app.WaitForOutputAsync("Scaling from 3 to 2 workers");
        app.Signal(AppProcess.SigTtou);
        await app.WaitForOutputAsync("Scaling from 2 to 1 workers");
        app.Signal(AppProcess.SigTtou);
        await app.WaitForOutputCountAsync("Received SIGTTOU", 3);
        await app.WaitForOutputAsync(@"Worker 1 \(generation 1\) was unloaded");

        var one = await client.GetJsonAsync<WorkerSnapshot[]>("/workers");
        Assert.Equal([(0, WorkerState.Ready)], one.Select(w => (w.Slot, w.State)));
        Assert.Equal(0, app.CountLines("Scaling from 1 to"));

        // Slots keep counting generations: slot 2 comes back as generation 2.
        using var scaled = await client.PostAsync("/scale?count=3", null);
        await app.WaitForOutputAsync("Scaling from 1 to 3 workers");
        await app.WaitForOutputAsync(@"Worker 2 \(generation 2\) is ready");
        var seen = new HashSet<int>();
        for (var i = 0; i < 9; i++)
        {
            seen.Add((await client.GetJsonAsync<WorkerInfo>("/")).Slot);
        }

        Assert.Equal([0, 1, 2], seen.Order());
    }

    [Fact]
    public async Task ScalingDownUnderLoadFailsNoRequest()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=4"]);
        await using var _ = app;

        await using var load = LoadGenerator.Start(address);
        await load.WaitForMoreSuccessesAsync(200);
        app.Signal(AppProcess.SigTtou);
        await app.WaitForOutputAsync(@"Worker 3 \(generation 1\) stopped");
        app.Signal(AppProcess.SigTtou);
        await app.WaitForOutputAsync(@"Worker 2 \(generation 1\) stopped");
        await load.WaitForMoreSuccessesAsync(200);

        Assert.Empty(load.Failures);
    }

    [Fact]
    public async Task MaxRequestsRecyclesWorkersOneAtATimeWithoutFailingARequest()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", "--Workers:MaxRequests=100", "--Workers:MaxRequestsJitter=20"]);
        await using var _ = app;

        await using (var load = LoadGenerator.Start(address, clients: 4))
        {
            await app.WaitForOutputCountAsync(@"Worker \d \(generation \d+\) reached its limit of \d+ requests \(Workers:MaxRequests\); replacing it\.", 4);
            await load.WaitForMoreSuccessesAsync(100);
            Assert.Empty(load.Failures);
        }

        // Each worker's limit is MaxRequests plus a jitter of at most MaxRequestsJitter.
        var lines = app.Output.Split('\n');
        foreach (var recycle in lines.Where(l => l.Contains("(Workers:MaxRequests)", StringComparison.Ordinal)))
        {
            var limit = int.Parse(System.Text.RegularExpressions.Regex.Match(recycle, @"limit of (\d+) requests").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(limit, 100, 120);
        }

        // Never two recycles at once: every "replacing" line comes after the previous replacement was ready.
        var events = lines
            .Select(l => l.Contains("(Workers:MaxRequests)", StringComparison.Ordinal) ? "recycle" : l.Contains("is ready in", StringComparison.Ordinal) ? "ready" : null)
            .Where(e => e is not null)
            .SkipWhile(e => e == "ready")
            .ToArray();
        for (var i = 0; i + 1 < events.Length; i += 2)
        {
            Assert.Equal(("recycle", "ready"), (events[i], events[i + 1]));
        }
    }

    [Fact]
    public async Task SigquitStopsWithoutWaitingForInFlightRequests()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=1", "--Workers:GracefulTimeout=00:00:30"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);
        using var hanging = await client.GetAsync("/hang", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();

        var stopwatch = Stopwatch.StartNew();
        app.Signal(AppProcess.SigQuit);
        var exitCode = await app.WaitForExitAsync();

        Assert.Equal(0, exitCode);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"SIGQUIT took {stopwatch.Elapsed}: it waited for the drain.");
        Assert.Equal(1, app.CountLines("Received SIGQUIT: stopping without waiting for in-flight requests"));
        Assert.Equal(1, app.CountLines(@"did not drain within 00:00:00; aborting 1 in-flight requests"));
    }

    [Fact]
    public async Task ChangingWorkersCountInAppsettingsScalesTheRunningApp()
    {
        using var contentRoot = TempDirectory.Create("root");
        var settings = Path.Combine(contentRoot.Path, "appsettings.json");
        await File.WriteAllTextAsync(settings, """{ "Workers": { "Count": 2 } }""");
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, [$"--contentRoot={contentRoot.Path}"]);
        await using var _ = app;
        Assert.Equal(1, app.CountLines("Starting 2 workers"));

        // Written as deploy tools and most editors do: a new file renamed over the old one.
        await ReplaceFileAsync(settings, """{ "Workers": { "Count": 3 } }""");
        await app.WaitForOutputAsync("Scaling from 2 to 3 workers");
        await app.WaitForOutputAsync(@"Worker 2 \(generation 1\) is ready");

        // An invalid value is rejected and the pool keeps its size.
        await ReplaceFileAsync(settings, """{ "Workers": { "Count": 0 } }""");
        await app.WaitForOutputAsync(@"The changed Workers configuration is invalid and was not applied.*Workers:Count must be between 1 and 1024; '0' was given");

        using var client = Http.NewConnectionPerRequest(address);
        Assert.Equal(3, (await client.GetJsonAsync<WorkerSnapshot[]>("/workers")).Count(w => w.State == WorkerState.Ready));
    }

    private static async Task ReplaceFileAsync(string path, string content)
    {
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }
}
