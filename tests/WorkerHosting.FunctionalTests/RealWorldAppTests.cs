using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using WorkerHosting.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// An app with what production apps use from NuGet (EF Core on SQLite, OpenTelemetry with Prometheus and OTLP,
/// Serilog, Swashbuckle, a resilient HttpClient, SignalR, gRPC, FluentValidation, caching, rate limiting, a
/// background service) serves every feature from every worker, and every worker it stops, whatever stops it (a
/// reload, MaxRequests, scaling down, SIGTERM), is unloaded: its load context is collected.
/// </summary>
public sealed class RealWorldAppTests(ITestOutputHelper output)
{
    private const string Recycling = @"Worker (?<slot>\d+) \(generation (?<generation>\d+)\) reached its limit of \d+ requests \(Workers:MaxRequests\); replacing it\.";
    private const string Booting = @"Worker (?<slot>\d+) \(generation (?<generation>\d+)\) is booting\.";
    private const string Ready = @"Worker (?<slot>\d+) \(generation (?<generation>\d+)\) is ready in \d+ ms\.";
    private const string Stopped = @"Worker (?<slot>\d+) \(generation (?<generation>\d+)\) stopped in \d+ ms after serving \d+ requests\.";
    private const string Unloaded = @"Worker (?<slot>\d+) \(generation (?<generation>\d+)\) was unloaded\.";
    private const string StillAlive = @"Worker (?<slot>\d+) \(generation (?<generation>\d+)\) was unloaded but its load context is still alive";
    private const string UnloadOutcome = @"was unloaded\.|was unloaded but its load context is still alive";

    /// <summary>What the coordinator's host logs when SIGTERM stops it (WorkerHosting logs no line of its own).</summary>
    private const string ShuttingDown = "Application is shutting down...";

    [Fact]
    public async Task RealWorldAppServesEveryFeatureFromEveryWorker()
    {
        var database = Path.Combine(Path.GetTempPath(), $"workerhosting-realworld-{Guid.NewGuid():N}");
        Directory.CreateDirectory(database);
        try
        {
            await using var app = AppProcess.Start(TestApps.RealWorld,
            [
                "--Workers:Count=2",
                "--Kestrel:Endpoints:Http:Url=http://127.0.0.1:0",
                "--Kestrel:Endpoints:Grpc:Url=http://127.0.0.1:0",
                $"--ConnectionStrings:Default=Data Source={Path.Combine(database, "app.db")}",
            ]);
            await app.WaitForOutputAsync(@"2 of 2 workers are ready");
            Assert.Equal(2, app.CountLines(@"Worker [01] \(generation 1\) is ready in \d+ ms\."));
            Assert.Equal(1, app.CountLines("Database .*app.db is ready"));

            // Both endpoints were on port 0: the coordinator reports each resolved port once (workers may repeat
            // the lines, Serilog does not apply the workers' log filter); which one is gRPC, the client finds out.
            var addresses = app.Output.Split('\n')
                .Select(line => Regex.Match(line, @"Now listening on: (?<address>\S+)"))
                .Where(m => m.Success)
                .Select(m => new Uri(m.Groups["address"].Value))
                .Distinct()
                .ToArray();
            Assert.All(addresses, a => Assert.NotEqual(0, a.Port));
            Assert.Equal(1, app.CountLines(@"Starting 2 workers on " + string.Join(", ", addresses.Select(a => $@"127\.0\.0\.1:{a.Port}")) + @"\."));
            using var client = await RealWorldClient.ForAddressesAsync(addresses);

            var answered = new HashSet<int>();
            for (var round = 0; round < 4; round++)
            {
                answered.UnionWith(await client.ExerciseAllAsync());
            }

            Assert.Equal([0, 1], answered.Order());
            var workers = new HashSet<(int Id, int Generation)>();
            for (var i = 0; i < 4; i++)
            {
                var worker = await client.GetWorkerAsync();
                workers.Add((worker.Id, worker.Generation));
            }

            Assert.Equal([(0, 1), (1, 1)], workers.Order());

            app.Signal(AppProcess.SigTerm);
            Assert.Equal(0, await app.WaitForExitAsync());
            Assert.Equal(1, app.CountLines(@"Stopped 2 workers in \d+ ms\."));
            Assert.Equal(0, app.CountLines(@"\[(ERR|FTL)\]|Unhandled exception"));
        }
        finally
        {
            Directory.Delete(database, recursive: true);
        }
    }

    /// <summary>
    /// Three rolling reloads of 2 workers, each under light traffic that fails no request; before and after each reload
    /// both workers serve every feature; then SIGTERM, exit 0. All 8 workers (2 slots, 4 generations, the last ones
    /// stopped by SIGTERM) report their unloading once: unloaded, or still alive with what holds them named.
    /// </summary>
    [Fact]
    public async Task RealWorldAppReloadsUnderTrafficAndReportsEveryGenerationsUnloading()
    {
        var stopwatch = Stopwatch.StartNew();
        using var database = new TemporaryDirectory("workerhosting-realworld");
        await using var app = AppProcess.Start(TestApps.RealWorld, Arguments(database.Path, "--Workers:Count=2"));
        await app.WaitForOutputAsync(@"2 of 2 workers are ready");
        try
        {
            using var client = await ConnectAsync(app);
            client.Log = output.WriteLine;
            Trace(stopwatch, $"generation 1: both workers served every feature ({await client.ExerciseAllOnEveryWorkerAsync([0, 1])} calls)");

            // From the first reload on, a new worker's /metrics may lack the app's meter (see ExpectAppMeter).
            client.ExpectAppMeter = false;
            for (var reload = 1; reload <= 3; reload++)
            {
                var generation = reload + 1;
                await using (var traffic = LoadGenerator.Start(client.HttpAddress, "/worker", clients: 1))
                {
                    await traffic.WaitForMoreSuccessesAsync(20);
                    app.Signal(AppProcess.SigHup);

                    // One slot at a time: each new worker is ready, then the reload ends once the old ones drained.
                    await app.WaitForOutputAsync($@"Worker 0 \(generation {generation}\) is ready in");
                    await app.WaitForOutputAsync($@"Worker 1 \(generation {generation}\) is ready in");
                    await app.WaitForOutputCountAsync(@"Reloaded 2 workers in \d+ ms\.", reload);
                    await traffic.WaitForMoreSuccessesAsync(20);
                    Assert.Empty(traffic.Failures);
                    Assert.Contains(traffic.Bodies, body => body.Contains($"\"generation\":{generation - 1}", StringComparison.Ordinal));
                    Assert.Contains(traffic.Bodies, body => body.Contains($"\"generation\":{generation}", StringComparison.Ordinal));
                    Trace(stopwatch, $"reload {reload}: done under traffic ({traffic.Succeeded} requests, none failed)");
                }

                // Only the new generation answers now.
                var workers = new HashSet<(int Id, int Generation)>();
                for (var i = 0; i < 4; i++)
                {
                    var worker = await client.GetWorkerAsync();
                    workers.Add((worker.Id, worker.Generation));
                }

                Assert.Equal([(0, generation), (1, generation)], workers.Order());
                Trace(stopwatch, $"generation {generation}: both workers served every feature ({await client.ExerciseAllOnEveryWorkerAsync([0, 1])} calls)");
            }

            await StopAsync(app);
            Trace(stopwatch, "exited with 0");

            var everyWorker = (from slot in Enumerable.Range(0, 2) from generation in Enumerable.Range(1, 4) select (slot, generation)).ToArray();
            Assert.Equal(everyWorker.Order(), Workers(app, Booting).Order());
            AssertEveryWorkerWasUnloadedOrItsHolderNamed(app);
            Assert.Equal(3, app.CountLines(@"Reloaded 2 workers in \d+ ms\."));
            Assert.Equal(1, app.CountLines(@"Stopped 2 workers in \d+ ms\."));
            Assert.Equal(0, app.CountLines(@"\[(ERR|FTL)\]|Unhandled exception"));
        }
        catch (Exception) when (WriteOutput(app))
        {
        }
    }

    /// <summary>
    /// 2 workers with a small MaxRequests: the features' own requests recycle workers (at least two); then one worker
    /// more (SIGTTIN), which serves the features too, and one less (SIGTTOU), which is unloaded before the features run
    /// again on the two left; then SIGTERM. Every worker that was started (the first two, their replacements, the
    /// scaled-down one, the last ones) reports its unloading once: unloaded, or still alive with what holds it named.
    /// </summary>
    [Fact]
    public async Task RealWorldAppRecyclesAndScalesDownAndReportsEveryWorkersUnloading()
    {
        var stopwatch = Stopwatch.StartNew();
        using var database = new TemporaryDirectory("workerhosting-realworld");
        await using var app = AppProcess.Start(TestApps.RealWorld, Arguments(database.Path, "--Workers:Count=2", "--Workers:MaxRequests=30", "--Workers:MaxRequestsJitter=0"));
        await app.WaitForOutputAsync(@"2 of 2 workers are ready");
        try
        {
            using var client = await ConnectAsync(app);
            client.Log = output.WriteLine;

            // The client's own requests recycle the workers, so a worker may drain under a feature's connection, and
            // replaced workers' /metrics may lack the app's meter (see WorkersMayDrain and ExpectAppMeter).
            client.WorkersMayDrain = true;
            client.ExpectAppMeter = false;

            // A worker that reached its limit is logged when its recycle starts, after the recycle before it is done (one
            // at a time): the features keep running until two were logged.
            var exercising = Stopwatch.StartNew();
            for (var round = 1; app.CountLines(Recycling) < 2; round++)
            {
                Assert.True(exercising.Elapsed < TimeSpan.FromSeconds(90), $"{round - 1} rounds of every feature recycled {app.CountLines(Recycling)} workers. The app's output:\n{app.Output}");
                await client.ExerciseAllAsync();
            }

            await WaitUntilEveryStartedWorkerIsReadyAsync(app);
            Trace(stopwatch, $"{app.CountLines(Recycling)} workers recycled");

            app.Signal(AppProcess.SigTtin);
            await app.WaitForOutputAsync(@"Scaling from 2 to 3 workers\.");
            await app.WaitForOutputAsync(@"Worker 2 \(generation 1\) is ready in");
            var served = new HashSet<int>();
            for (var round = 1; !served.Contains(2); round++)
            {
                Assert.True(round <= 4, $"{round - 1} rounds of every feature with 3 workers were served by workers {string.Join(", ", served.Order())} only.");
                served.UnionWith(await client.ExerciseAllAsync());
            }

            Trace(stopwatch, "scaled up to 3 workers; the third served");

            app.Signal(AppProcess.SigTtou);
            await app.WaitForOutputAsync(@"Scaling from 3 to 2 workers\.");
            await app.WaitForOutputCountAsync($"Worker 2 \\(generation \\d+\\) (?:{UnloadOutcome})", app.CountLines(@"Worker 2 \(generation \d+\) is booting\."));
            Trace(stopwatch, "scaled down to 2 workers; the third was unloaded");

            Trace(stopwatch, $"both workers served every feature ({await client.ExerciseAllOnEveryWorkerAsync([0, 1])} calls)");
            await WaitUntilEveryStartedWorkerIsReadyAsync(app);
            var drainsBeforeSigterm = app.CountLines(Stopped);
            await StopAsync(app);
            Trace(stopwatch, $"exited with 0; {app.CountLines(Recycling)} recycles; features tried again: {client.Retries.Count} ({string.Join("; ", client.Retries)})");

            var everyWorker = Workers(app, Booting);
            AssertEveryWorkerWasUnloadedOrItsHolderNamed(app);
            Assert.Contains((2, 1), everyWorker);
            Assert.True(app.CountLines(Recycling) >= 2);
            Assert.Subset(everyWorker.ToHashSet(), Workers(app, Recycling).ToHashSet());
            Assert.Equal(1, app.CountLines(@"Stopped \d+ workers in \d+ ms\."));

            // A recycle that a worker's last requests started may still be booting at SIGTERM: its host's start is
            // cancelled, which the host logs as an error. Before SIGTERM, nothing logs an error.
            Assert.DoesNotMatch(@"\[(ERR|FTL)\]|Unhandled exception", app.Output.Split(ShuttingDown)[0]);
            Assert.Equal(0, app.CountLines(@"\[FTL\]|Unhandled exception|Fatal error"));

            // A feature is tried again only when a worker drained under it: at most once per drain before SIGTERM.
            Assert.True(client.Retries.Count <= drainsBeforeSigterm, $"{client.Retries.Count} features tried again for {drainsBeforeSigterm} drains: {string.Join("; ", client.Retries)}");
        }
        catch (Exception) when (WriteOutput(app))
        {
        }
    }

    private static string[] Arguments(string database, params string[] args) =>
    [
        .. args,
        "--Kestrel:Endpoints:Http:Url=http://127.0.0.1:0",
        "--Kestrel:Endpoints:Grpc:Url=http://127.0.0.1:0",
        $"--ConnectionStrings:Default=Data Source={Path.Combine(database, "app.db")}",

        // A line per request would be thousands under traffic; what a worker left registered process-wide when it
        // stopped (Debug) is what a test needs when a worker stays alive.
        "--Serilog:MinimumLevel:Override:Serilog.AspNetCore.RequestLoggingMiddleware=Warning",
        "--Serilog:MinimumLevel:Override:WorkerHosting=Debug",
    ];

    /// <summary>Finds the app's two endpoints (both on port 0) in the coordinator's output.</summary>
    private static Task<RealWorldClient> ConnectAsync(AppProcess app)
    {
        var addresses = app.Output.Split('\n')
            .Select(line => Regex.Match(line, @"Now listening on: (?<address>\S+)"))
            .Where(m => m.Success)
            .Select(m => new Uri(m.Groups["address"].Value))
            .Distinct()
            .ToArray();
        return RealWorldClient.ForAddressesAsync(addresses);
    }

    /// <summary>
    /// Asserts that every worker that was started (booted) stopped once and its unloading was reported once: unloaded, or
    /// kept in memory with the reason named: WorkerHosting does not unload workers that loaded EF Core, because unloading
    /// them crashed the process under load on .NET 10.0.12 (docs/architecture.md). On failure, the message has every
    /// line about the workers concerned.
    /// </summary>
    private static void AssertEveryWorkerWasUnloadedOrItsHolderNamed(AppProcess app)
    {
        var log = app.Output;
        var started = Workers(log, Booting);
        var alive = Workers(log, StillAlive);
        var unloaded = Workers(log, Unloaded);
        var reported = unloaded.Concat(alive).ToList();
        var concerned = started.Except(reported)
            .Concat(reported.Except(started))
            .Concat(reported.GroupBy(w => w).Where(g => g.Count() > 1).Select(g => g.Key))
            .Distinct()
            .ToArray();
        var context = string.Join('\n', log.Split('\n').Where(line => concerned.Any(w => line.Contains($"Worker {w.Slot} (generation {w.Generation})", StringComparison.Ordinal))));
        Assert.True(started.Order().SequenceEqual(reported.Order()), $"Started: {string.Join(", ", started.Order())}; reported: {string.Join(", ", reported.Order())}. Lines of the workers that differ:\n{context}");
        Assert.Equal(started.Order(), Workers(log, Stopped).Order());
        Assert.All(log.Split('\n').Where(line => Regex.IsMatch(line, StillAlive)),
            line => Assert.Contains("keeps it in memory because it loaded Microsoft.EntityFrameworkCore", line, StringComparison.Ordinal));
    }

    /// <summary>SIGTERM, and the app exits with 0 (else the message has what it wrote from the signal on).</summary>
    private static async Task StopAsync(AppProcess app)
    {
        app.Signal(AppProcess.SigTerm);
        var exitCode = await app.WaitForExitAsync();
        var output = app.Output;
        var signal = output.IndexOf(ShuttingDown, StringComparison.Ordinal);
        Assert.True(exitCode == 0, $"The app exited with {exitCode}. Its output from SIGTERM on:\n{(signal < 0 ? output : output[signal..])}");
    }

    /// <summary>Waits until every worker that began to boot is ready (no recycle or scaling is half done).</summary>
    private static Task WaitUntilEveryStartedWorkerIsReadyAsync(AppProcess app) => app.WaitForOutputCountAsync(Ready, app.CountLines(Booting));

    private static List<(int Slot, int Generation)> Workers(AppProcess app, string pattern) => Workers(app.Output, pattern);

    private static List<(int Slot, int Generation)> Workers(string log, string pattern) =>
    [
        .. Regex.Matches(log, pattern).Select(m => (
            int.Parse(m.Groups["slot"].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups["generation"].Value, CultureInfo.InvariantCulture))),
    ];

    /// <summary>Writes the app's output (and whether it still runs) to the test's output; never handles the exception.</summary>
    private bool WriteOutput(AppProcess app)
    {
        output.WriteLine($"The app {(app.HasExited ? "exited" : "still runs")}. Its output:");
        output.WriteLine(app.Output);
        return false;
    }

    private void Trace(Stopwatch stopwatch, string message) => output.WriteLine($"{stopwatch.Elapsed.TotalSeconds,6:F1} s  {message}");

    private sealed class TemporaryDirectory : IDisposable
    {
        public TemporaryDirectory(string prefix)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
