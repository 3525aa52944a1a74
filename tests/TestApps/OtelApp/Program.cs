using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using WorkerHosting;

// OpenTelemetry served by workers, set up as any ASP.NET Core app sets it up (docs/opentelemetry.md): the providers run
// once, in the coordinator, and a scrape through the shared endpoint (any worker) is answered by the coordinator.
var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddOpenTelemetry()
    .WithMetrics(metrics =>
    {
        // No cached scrape: each scrape the tests make reads the numbers now.
        metrics.AddAspNetCoreInstrumentation().AddMeter("WorkerHosting", SpanCounter.MeterName)
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0);
    })
    .WithTracing(tracing =>
    {
        tracing.AddAspNetCoreInstrumentation().AddProcessor(new SpanCounter());
    });

var app = builder.Build();
app.MapPrometheusScrapingEndpoint();

// Which worker served the request: its slot.
app.MapGet("/", (IWorkerContext worker) => worker.Slot.ToString(CultureInfo.InvariantCulture));

// Never finishes on its own: only an abort ends it.
app.MapGet("/hang", async (HttpContext http) =>
{
    await http.Response.StartAsync();
    await http.Response.Body.FlushAsync();
    await Task.Delay(Timeout.Infinite, CancellationToken.None);
});

app.Run();

/// <summary>
/// Counts the spans of GET / that the tracer provider it is added to ends, on the counter <c>otelapp.spans</c>, which a
/// scrape shows (its meter is created by the first span counted: only a provider that ends spans creates it).
/// </summary>
internal sealed class SpanCounter : BaseProcessor<Activity>
{
    public const string MeterName = "OtelApp";

    private static readonly Lazy<Counter<long>> _spans = new(() => new Meter(MeterName).CreateCounter<long>("otelapp.spans"));

    public override void OnEnd(Activity data)
    {
        if (data.GetTagItem("http.route") as string == "/")
        {
            _spans.Value.Add(1);
        }
    }
}
