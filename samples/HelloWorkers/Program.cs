using OpenTelemetry.Metrics;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);

// The one line: serve this app from 4 workers (Workers:Count in configuration overrides it).
builder.UseWorkers(4);

// Readiness for a load balancer or Kubernetes: healthy when every worker slot has a ready worker, unhealthy once the
// process stops (and during its Workers:ShutdownDelay, while it still serves).
builder.Services.AddHealthChecks().AddWorkersCheck();

// Metrics, as any ASP.NET Core app sets them up: the HTTP server's and the pool's (the WorkerHosting meter), scraped at
// /metrics. Its providers run once, in the coordinator, so every scrape counts every worker's requests, across reloads.
builder.Services.AddOpenTelemetry()
    .WithMetrics(metrics => metrics.AddAspNetCoreInstrumentation().AddMeter("WorkerHosting").AddPrometheusExporter());

var app = builder.Build();

// Which worker served the request: new connections are spread over all of them.
app.MapGet("/", (IWorkerContext worker) => $"Hello from worker {worker.Slot} (generation {worker.Generation})\n");

// JSON of the app's own type.
app.MapGet("/weather", (IWorkerContext worker) => Enumerable.Range(1, 3).Select(day =>
    new Forecast(DateOnly.FromDateTime(DateTime.Today.AddDays(day)), Random.Shared.Next(-10, 35), worker.Slot)));

app.MapPrometheusScrapingEndpoint();
app.MapHealthChecks("/healthz/ready", new() { Predicate = check => check.Tags.Contains("ready") });
app.MapHealthChecks("/healthz/live", new() { Predicate = _ => false });

// A slow request, to watch a drain: press Ctrl+C while `curl localhost:5000/slow?seconds=10` runs.
app.MapGet("/slow", async (int? seconds, IWorkerContext worker, CancellationToken aborted) =>
{
    await Task.Delay(TimeSpan.FromSeconds(seconds ?? 5), aborted);
    return $"Slow request finished by worker {worker.Slot}\n";
});

app.Run();

internal sealed record Forecast(DateOnly Date, int TemperatureC, int Worker);
