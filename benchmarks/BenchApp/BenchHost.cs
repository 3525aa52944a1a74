using OpenTelemetry.Metrics;

/// <summary>
/// The bench app: the same app served by plain Kestrel (Bench:Workers=0) or by UseWorkers(n); only that line differs.
/// Public so the in-process benchmarks (WorkerHosting.Benchmarks) build the very same host.
/// </summary>
public static class BenchHost
{
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        var workers = builder.Configuration.GetValue("Bench:Workers", 0);
        if (workers > 0)
        {
            builder.UseWorkers(workers);
        }

        // Bench:OpenTelemetry: none (the default); usual (the setup of any app; with workers, its providers run once, in
        // the coordinator: docs/opentelemetry.md).
        var telemetry = builder.Configuration.GetValue("Bench:OpenTelemetry", "none");
        if (telemetry != "none")
        {
            builder.Services.AddOpenTelemetry()
                .WithMetrics(metrics => metrics.AddAspNetCoreInstrumentation().AddMeter("WorkerHosting").AddPrometheusExporter());
        }

        var app = builder.Build();
        if (telemetry != "none")
        {
            app.MapPrometheusScrapingEndpoint();
        }

        app.MapGet("/plaintext", () => "Hello, World!");
        app.MapGet("/json", () => new Message("Hello, World!"));

        // JSON of a framework type: its serialization code is shared by all workers (compare with /json).
        app.MapGet("/json-framework", () => new Dictionary<string, string> { ["message"] = "Hello, World!" });
        return app;
    }
}

internal sealed record Message(string message);
