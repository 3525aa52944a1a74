using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// OpenTelemetry in an app served by workers (tests/TestApps/OtelApp, docs/opentelemetry.md): what a Prometheus scrape
/// through the shared endpoint reads, per worker (the <c>workerhosting.worker.slot</c> tag WorkerHosting adds), and
/// what each worker's providers record.
/// </summary>
public sealed partial class OpenTelemetryTests
{
    private const int Requests = 1_000;

    [Fact]
    public async Task UsualSetupCountsEveryRequestOnceInEveryScrapeAndEachWorkersShareBySlot()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Otel);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        var served = await SendAsync(client, Requests);
        Assert.Equal(Requests, served.Values.Sum());
        Assert.Equal(2, served.Count);

        // A request's duration is recorded as its response ends: wait until the last ones are, then read four scrapes.
        var (_, scraped) = await ScrapeUntilAsync(client, s => RequestCounts(s).Values.Sum() >= Requests);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(served, RequestCounts(await ScrapeAsync(client)));
        }

        // The scrapes landed on both workers (new connections go to each worker in turn), and each showed the same.
        scraped += 4;
        var (last, _) = await ScrapeUntilAsync(client, s => RouteCounts(s, "/metrics").Values.Sum() >= scraped);
        var scrapes = RouteCounts(last, "/metrics");
        Assert.Equal(scraped, scrapes.Values.Sum());
        Assert.Equal(2, scrapes.Count);

        // Tracing: every worker's tracer provider ends every worker's spans (each is exported once per worker).
        Assert.Equal(new Dictionary<int, long> { [0] = Requests, [1] = Requests }, await SpansBySlotAsync(client, expectedEach: _ => Requests));
    }

    [Fact]
    public async Task PerWorkerSetupRecordsOnlyEachWorkersOwnRequestsAndKeepsCountingAcrossAReload()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Otel, ["--Telemetry:Mode=per-worker"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        var served = await SendAsync(client, Requests);
        Assert.Equal(2, served.Count);
        Assert.Equal(served, await OwnCountsBySlotAsync(client, served));
        Assert.Equal(served.ToDictionary(p => p.Key, p => (long)p.Value), await SpansBySlotAsync(client, slot => served[slot]));

        // The reload replaces both workers: the new ones count their own requests from zero, none lost.
        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputAsync("Reloaded 2 workers");
        var servedAfter = await SendAsync(client, Requests);
        Assert.Equal(2, servedAfter.Count);
        Assert.Equal(servedAfter, await OwnCountsBySlotAsync(client, servedAfter));
    }

    [Fact]
    public async Task TheWorkerHostingMeterReadThroughTheAppsProviderCountsARequestCutAtTheGracefulTimeout()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Otel, ["--Workers:Count=1", "--Workers:GracefulTimeout=00:00:01"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);
        using var hanging = await client.GetAsync("/hang", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();

        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputAsync(@"Worker 0 \(generation 1\) did not drain within 00:00:01; aborting 1 in-flight requests");
        await app.WaitForOutputAsync(@"Worker 0 \(generation 1\) stopped in");

        // Read by the new worker's provider (the coordinator's meter lives for the process).
        var (scrape, _) = await ScrapeUntilAsync(client, s => Samples(s, "workerhosting_worker_exits_total").Count != 0);
        Assert.Equal([1.0], Samples(scrape, "workerhosting_requests_aborted_total").Select(s => s.Value));
        var exits = Assert.Single(Samples(scrape, "workerhosting_worker_exits_total"));
        Assert.Equal(("reload", 1.0), (exits.Labels["workerhosting_exit_reason"], exits.Value));
        var ready = Assert.Single(Samples(scrape, "workerhosting_worker_count"), s => s.Labels["workerhosting_worker_state"] == "ready");
        Assert.Equal(1.0, ready.Value);
    }

    /// <summary>Sends GET / <paramref name="count"/> times, four at a time; returns how many each slot served.</summary>
    private static async Task<Dictionary<int, int>> SendAsync(HttpClient client, int count)
    {
        var next = 0;
        var slots = new int[count];
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next) - 1; i < count; i = Interlocked.Increment(ref next) - 1)
            {
                slots[i] = int.Parse(await client.GetStringAsync("/"), CultureInfo.InvariantCulture);
            }
        })).DefaultTimeout();
        return slots.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
    }

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/metrics").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync().DefaultTimeout();
    }

    /// <summary>Scrapes until <paramref name="done"/> holds (within the default timeout); returns that scrape and how many were made.</summary>
    private static async Task<(string Scrape, int Scrapes)> ScrapeUntilAsync(HttpClient client, Func<string, bool> done)
    {
        using var timeout = new CancellationTokenSource(TaskTimeoutExtensions.DefaultTimeoutValue);
        for (var scrapes = 1; ; scrapes++)
        {
            var scrape = await ScrapeAsync(client);
            if (done(scrape))
            {
                return (scrape, scrapes);
            }

            Assert.False(timeout.IsCancellationRequested, $"The scrapes never showed what was expected; the last one:\n{scrape}");
        }
    }

    /// <summary>
    /// Per-worker setup: each scrape shows only the worker that served it. Scrapes until both workers' own counts of
    /// GET / have reached what they served, then returns each worker's count (its own scrape shows no other slot).
    /// </summary>
    private static async Task<Dictionary<int, int>> OwnCountsBySlotAsync(HttpClient client, Dictionary<int, int> served)
    {
        var counts = new Dictionary<int, int>();
        await ScrapeUntilAsync(client, scrape =>
        {
            var own = RequestCounts(scrape);
            Assert.Single(own);
            var (slot, count) = own.Single();
            if (count >= served[slot])
            {
                counts[slot] = count;
            }

            return counts.Count == served.Count;
        });
        return counts;
    }

    /// <summary>Asks /spans until each worker reports its expected count (or the timeout); returns each worker's count.</summary>
    private static async Task<Dictionary<int, long>> SpansBySlotAsync(HttpClient client, Func<int, long> expectedEach)
    {
        var counts = new Dictionary<int, long>();
        using var timeout = new CancellationTokenSource(TaskTimeoutExtensions.DefaultTimeoutValue);
        while (counts.Count < 2)
        {
            var parts = (await client.GetStringAsync("/spans").DefaultTimeout()).Split(' ');
            var (slot, count) = (int.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
            if (count >= expectedEach(slot))
            {
                counts[slot] = count;
            }

            Assert.False(timeout.IsCancellationRequested, $"Worker {slot} reported {count} spans.");
        }

        return counts;
    }

    /// <summary>The http.server.request.duration count of GET / in a scrape, by the worker slot tag.</summary>
    private static Dictionary<int, int> RequestCounts(string scrape) => RouteCounts(scrape, "/");

    private static Dictionary<int, int> RouteCounts(string scrape, string route) =>
        Samples(scrape, "http_server_request_duration_seconds_count")
            .Where(s => s.Labels["http_route"] == route)
            .ToDictionary(
                s => int.Parse(s.Labels["workerhosting_worker_slot"], CultureInfo.InvariantCulture),
                s => (int)s.Value);

    /// <summary>The samples of a metric in Prometheus text format: labels and value.</summary>
    private static List<(Dictionary<string, string> Labels, double Value)> Samples(string scrape, string metric) =>
        SampleLine().Matches(scrape)
            .Where(m => m.Groups["name"].Value == metric)
            .Select(m => (
                LabelPair().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value),
                double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)))
            .ToList();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();

    [GeneratedRegex("([a-zA-Z_][a-zA-Z0-9_]*)=\"([^\"]*)\"")]
    private static partial Regex LabelPair();
}
