using WorkerHosting;

// A minimal API app as `dotnet new web` makes it, plus the one line and a few endpoints the functional tests use.
var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);
builder.Services.AddHostedService<StartupProbe>();

var app = builder.Build();

var context = app.Services.GetRequiredService<IWorkerContext>();
app.Logger.LogInformation("Main ran as {Role} {WorkerId}.", context.Role, context.Id);

if (context.Role != WorkerRole.Worker && app.Configuration["TestApp:StopAfterStart"] == "true")
{
    // The coordinator (or a standalone host) stops itself, as an app's own code may.
    app.Lifetime.ApplicationStarted.Register(app.Lifetime.StopApplication);
}

app.MapGet("/", (IWorkerContext worker) => new WorkerInfo(worker.Id, worker.Generation, worker.Role.ToString()));

// Each worker has its own statics: this counter counts the requests of one worker only.
app.MapGet("/counter", (IWorkerContext worker) => new CounterValue(worker.Id, Counter.Next()));

// Whether this host's hosted service started (in a worker, or standalone under a test server).
app.MapGet("/hosted", () => StartupProbe.Started ? "started" : "not started");

app.MapGet("/json", () => new Forecast(new DateOnly(2026, 11, 24), 21, "Mild"));

// Sends the headers at once (the client knows the request is in flight), then finishes the body after `ms`.
app.MapGet("/slow", async (HttpContext http, int ms) =>
{
    http.Response.ContentType = "text/plain";
    await http.Response.StartAsync();
    await http.Response.WriteAsync("started\n");
    await http.Response.Body.FlushAsync();
    await Task.Delay(ms);
    await http.Response.WriteAsync("finished\n");
});

// Never finishes on its own: only an abort ends it.
app.MapGet("/hang", async (HttpContext http) =>
{
    await http.Response.StartAsync();
    await http.Response.Body.FlushAsync();
    await Task.Delay(Timeout.Infinite, CancellationToken.None);
});

app.Run();

internal sealed record WorkerInfo(int Id, int Generation, string Role);

internal sealed record CounterValue(int Worker, int Count);

internal sealed record Forecast(DateOnly Date, int TemperatureC, string Summary);

internal static class Counter
{
    private static int _count;

    public static int Next() => Interlocked.Increment(ref _count);
}

internal sealed class StartupProbe(IWorkerContext worker, IConfiguration configuration, ILogger<StartupProbe> logger) : IHostedService
{
    public static bool Started { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Started = true;
        logger.LogInformation("Hosted service started as {Role} {WorkerId}.", worker.Role, worker.Id);
        if (configuration["TestApp:ThrowOnStart"] == "true")
        {
            throw new InvalidOperationException("TestApp refuses to start (TestApp:ThrowOnStart).");
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Visible to WebApplicationFactory.</summary>
public partial class Program;
