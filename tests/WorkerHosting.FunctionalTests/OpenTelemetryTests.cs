using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// OpenTelemetry in an app served by workers (tests/TestApps/OtelApp, docs/opentelemetry.md): the app's providers run
/// once, in the coordinator; what a Prometheus scrape through the shared endpoint (answered by the coordinator's pipeline,
/// whichever worker receives it) reads, per worker (the <c>workerhosting.worker.slot</c> tag WorkerHosting adds).
/// </summary>
public sealed partial class OpenTelemetryTests
{
    private const int Requests = 1_000;
    private const int RequestsAfterReload = 100;

    [Fact]
    public async Task UsualSetupCountsEveryRequestAndSpanExactlyOnceInEveryScrapeAcrossAReload()
    {
        // Releasing leftovers lets the replaced workers unload: OpenTelemetry's own statics in each worker (its
        // self-diagnostics loop) would keep them in memory otherwise, with or without providers there.
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Otel, ["--Workers:ReleaseLeftovers=true"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        var served = await SendAsync(client, Requests);
        Assert.Equal(2, served.Count);

        // The reload replaces both workers (their containers, and the meters they created, are disposed).
        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputAsync("Reloaded 2 workers");
        var servedAfter = await SendAsync(client, RequestsAfterReload);
        var bySlot = served.Keys.Union(servedAfter.Keys).ToDictionary(
            slot => slot, slot => served.GetValueOrDefault(slot) + servedAfter.GetValueOrDefault(slot));
        const int total = Requests + RequestsAfterReload;

        // Every scrape, on whichever worker it lands, reads the whole process's requests from the start, each once, split
        // by the worker slot that served it; and every span of GET / was ended once (by one tracer provider).
        var (_, scraped) = await ScrapeUntilAsync(client, s => RequestCounts(s).Values.Sum() >= total && SpanCount(s) >= total);
        for (var i = 0; i < 5; i++)
        {
            var scrape = await ScrapeAsync(client);
            Assert.Equal(bySlot, RequestCounts(scrape));
            Assert.Equal(total, SpanCount(scrape));
        }

        // The scrapes landed on both workers (new connections go to each worker in turn).
        scraped += 5;
        var (last, _) = await ScrapeUntilAsync(client, s => RouteCounts(s, "/metrics").Values.Sum() >= scraped);
        var scrapes = RouteCounts(last, "/metrics");
        Assert.Equal(scraped, scrapes.Values.Sum());
        Assert.Equal(2, scrapes.Count);

        // The replaced workers were unloaded: nothing the coordinator's providers keep holds them.
        await app.WaitForOutputCountAsync(@"Worker [01] \(generation 1\) was (unloaded\.|unloaded but its load context is still alive)", 2);
        Assert.Equal(2, app.CountLines(@"Worker [01] \(generation 1\) was unloaded\."));
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

        // Read by the app's provider, which runs in the coordinator (as does the WorkerHosting meter).
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

    /// <summary>The spans of GET / that the app's tracer providers ended (OtelApp's <c>otelapp.spans</c> counter).</summary>
    private static long SpanCount(string scrape) => (long)Samples(scrape, "otelapp_spans_total").Sum(s => s.Value);

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
