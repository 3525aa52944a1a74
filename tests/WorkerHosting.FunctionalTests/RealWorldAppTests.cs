using System.Text.RegularExpressions;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// An app with what production apps use from NuGet (EF Core on SQLite, OpenTelemetry with Prometheus and OTLP,
/// Serilog, Swashbuckle, a resilient HttpClient, SignalR, gRPC, FluentValidation, caching, rate limiting, a
/// background service) serves every feature from every worker.
/// </summary>
public sealed class RealWorldAppTests
{
    [Fact]
    public async Task RealWorldAppServesEveryFeatureFromEveryWorker()
    {
        using var database = TempDirectory.Create("realworld");
        await using var app = AppProcess.Start(TestApps.RealWorld,
        [
            "--Workers:Count=2",
            "--Kestrel:Endpoints:Http:Url=http://127.0.0.1:0",
            "--Kestrel:Endpoints:Grpc:Url=http://127.0.0.1:0",
            $"--ConnectionStrings:Default=Data Source={Path.Combine(database.Path, "app.db")}",
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
        var workers = new HashSet<(int Slot, int Generation)>();
        for (var i = 0; i < 4; i++)
        {
            var worker = await client.GetWorkerAsync();
            workers.Add((worker.Slot, worker.Generation));
        }

        Assert.Equal([(0, 1), (1, 1)], workers.Order());

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());
        Assert.Equal(1, app.CountLines(@"Stopped 2 workers in \d+ ms\."));
        Assert.Equal(0, app.CountLines(@"\[(ERR|FTL)\]|Unhandled exception"));
    }
}
