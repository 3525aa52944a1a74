using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using WorkerHosting;

// OpenTelemetry served by workers, in the two setups docs/opentelemetry.md describes:
// - Telemetry:Mode=usual (the default): the setup of any ASP.NET Core app, unchanged. Every worker's providers see every
//   worker's instruments and activities: a scrape through the shared endpoint (any worker) shows the whole process.
// - Telemetry:Mode=per-worker: each worker's providers record only what its own worker does (its own container's
//   instruments, the spans of its own requests) plus the process-wide WorkerHosting meter.
var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);
var perWorker = builder.Configuration["Telemetry:Mode"] == "per-worker";

builder.Services.AddOpenTelemetry()
    .WithMetrics(metrics =>
    {
        // No cached scrape: each scrape the tests make reads the numbers now.
        metrics.AddAspNetCoreInstrumentation().AddMeter("WorkerHosting")
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0);
        if (perWorker)
        {
            // Another worker's instruments (created by its own container's IMeterFactory) are that worker's to record.
            ((IDeferredMeterProviderBuilder)metrics).Configure((services, provider) =>
            {
                var own = services.GetRequiredService<IMeterFactory>();
                provider.AddView(instrument =>
                    instrument.Meter.Scope is IMeterFactory scope && scope != own && instrument.Meter.Name != "WorkerHosting"
                        ? MetricStreamConfiguration.Drop
                        : null);
            });
        }
    })
    .WithTracing(tracing =>
    {
        tracing.AddAspNetCoreInstrumentation();
        if (perWorker)
        {
            // A span is this worker's if its local root came from this worker's own "Microsoft.AspNetCore" source.
            ((IDeferredTracerProviderBuilder)tracing).Configure((services, provider) =>
                provider.AddProcessor(new OwnWorkerSpans(services.GetRequiredService<ActivitySource>(), new SpanCounter())));
        }
        else
        {
            tracing.AddProcessor(new SpanCounter());
        }
    });

var app = builder.Build();
app.MapPrometheusScrapingEndpoint();

// Which worker served the request: its slot.
app.MapGet("/", (IWorkerContext worker) => worker.Slot.ToString(CultureInfo.InvariantCulture));

// The spans of GET / this worker's tracer provider ended (each worker has its own copy of the app's statics): "slot count".
app.MapGet("/spans", (IWorkerContext worker) => $"{worker.Slot} {SpanCounter.Count}");

// Never finishes on its own: only an abort ends it.
app.MapGet("/hang", async (HttpContext http) =>
{
    await http.Response.StartAsync();
    await http.Response.Body.FlushAsync();
    await Task.Delay(Timeout.Infinite, CancellationToken.None);
});

app.Run();

internal sealed class SpanCounter : BaseProcessor<Activity>
{
    private static long _count;

    public static long Count => Interlocked.Read(ref _count);

    public override void OnEnd(Activity data)
    {
        if (data.GetTagItem("http.route") as string == "/")
        {
            Interlocked.Increment(ref _count);
        }
    }
}

/// <summary>Passes on the spans whose local root this worker's own web host started.</summary>
internal sealed class OwnWorkerSpans(ActivitySource own, BaseProcessor<Activity> next) : BaseProcessor<Activity>
{
    public override void OnEnd(Activity data)
    {
        var root = data;
        while (root.Parent is { } parent)
        {
            root = parent;
        }

        if (root.Source == own)
        {
            next.OnEnd(data);
        }
    }

    protected override void Dispose(bool disposing)
    {
        next.Dispose();
        base.Dispose(disposing);
    }
}
