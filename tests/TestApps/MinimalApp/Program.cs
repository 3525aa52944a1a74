using MinimalApp;
using WorkerHosting;

// A minimal API app as `dotnet new web` makes it, plus the one line and a few endpoints the functional tests use.
var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);
builder.Services.AddHostedService<StartupProbe>();
builder.Services.AddHostedService<FailOnDemand>();
builder.Services.AddHealthChecks().AddWorkersCheck();
builder.Services.AddSingleton<IGreeting, Greeting>();

// Socket activation: listen on the sockets systemd (or systemd-socket-activate) passed, as Kestrel's docs show.
if (builder.Configuration["TestApp:SystemdSockets"] == "true")
{
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.UseSystemd());
}

// A worker that leaks: a handler of its code registered process-wide and never removed keeps its load context alive.
if (builder.Configuration["TestApp:LeakOnStart"] == "true")
{
    AppDomain.CurrentDomain.ProcessExit += Leak.OnProcessExit;
}

if (builder.Configuration["TestApp:LogHooks"] == "true")
{
    // Registered in every worker's services too (the same Main): only the coordinator's is called.
    builder.Services.AddSingleton<IWorkerLifecycleObserver, HookLog>();
}

var app = builder.Build();

var context = app.Services.GetRequiredService<IWorkerContext>();
app.Logger.LogInformation("Main ran as {Role} {Slot}.", context.Role, context.Slot);

if (context.Role != WorkerRole.Worker && app.Configuration["TestApp:StopAfterStart"] == "true")
{
    // The coordinator (or a standalone host) stops itself, as an app's own code may.
    app.Lifetime.ApplicationStarted.Register(app.Lifetime.StopApplication);
}

app.MapGet("/", (IWorkerContext worker) => new WorkerInfo(worker.Slot, worker.Generation, worker.Role.ToString()));

// Each worker has its own statics: this counter counts the requests of one worker only.
app.MapGet("/counter", (IWorkerContext worker) => new CounterValue(worker.Slot, Counter.Next()));

// Whether this host's hosted service started (in a worker, or standalone under a test server).
app.MapGet("/hosted", () => StartupProbe.Started ? "started" : "not started");

// Kubernetes-style probes: readiness runs the checks tagged "ready" (the workers check), liveness none.
app.MapHealthChecks("/healthz/ready", new() { Predicate = check => check.Tags.Contains("ready") });
app.MapHealthChecks("/healthz/live", new() { Predicate = _ => false });

// Which process served (a hot upgrade replaces it).
app.MapGet("/pid", () => Environment.ProcessId);

// A service a test can replace (WorkersApplicationFactory's ConfigureTestServices), configuration and the environment.
app.MapGet("/greeting", (IGreeting greeting, IWorkerContext worker) => $"{worker.Slot} {greeting.Text}");
app.MapGet("/greeting/keyed", (IServiceProvider services) => services.GetKeyedService<IGreeting>("keyed")?.Text ?? "(none)");
app.MapGet("/config", (IConfiguration configuration, string key) => configuration[key] ?? "(null)");
app.MapGet("/environment", (IWebHostEnvironment environment) => environment.EnvironmentName);

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

// Lifecycle: the worker ends on its own (its app stops it, or a background service fails and stops its host).
app.MapPost("/exit", (IHostApplicationLifetime lifetime, IWorkerContext worker) =>
{
    lifetime.StopApplication();
    return worker.Slot;
});
app.MapPost("/fail-background", (IWorkerContext worker) =>
{
    FailOnDemand.Trigger.TrySetResult();
    return worker.Slot;
});

// The pool, from inside a worker.
app.MapGet("/workers", (IWorkerPool pool) => pool.GetWorkers());
app.MapPost("/reload", async (IWorkerPool pool, bool? wait) =>
{
    var reload = pool.ReloadAsync();
    return wait == true ? Results.Ok(await reload) : Results.Accepted();
});
app.MapPost("/scale", (IWorkerPool pool, int count) =>
{
    _ = pool.ScaleAsync(count);
    return Results.Accepted();
});

app.Run();

internal sealed record WorkerInfo(int Slot, int Generation, string Role);

internal sealed record CounterValue(int Worker, int Count);

internal sealed record Forecast(DateOnly Date, int TemperatureC, string Summary);

internal static class Leak
{
    public static void OnProcessExit(object? sender, EventArgs e)
    {
    }
}

internal static class Counter
{
    private static int _count;

    public static int Next() => Interlocked.Increment(ref _count);
}

internal sealed class StartupProbe(IWorkerContext worker, IConfiguration configuration, ILogger<StartupProbe> logger) : IHostedService
{
    public static bool Started { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Started = true;
        logger.LogInformation("Hosted service started as {Role} {Slot}.", worker.Role, worker.Slot);
        if (configuration["TestApp:ThrowOnStart"] == "true")
        {
            throw new InvalidOperationException("TestApp refuses to start (TestApp:ThrowOnStart).");
        }

        // Files a test creates while the app runs, to make the next workers fail or start slowly.
        if (configuration["TestApp:FailStartIfExists"] is { } failMarker && File.Exists(failMarker))
        {
            throw new InvalidOperationException($"TestApp refuses to start: '{failMarker}' exists.");
        }

        // App code that hangs at start and ignores its token, in one worker (TestApp:HangStart=slot:generation).
        if (configuration["TestApp:HangStart"] == $"{worker.Slot}:{worker.Generation}")
        {
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
        }

        if (configuration["TestApp:DelayStartIfExists"] is { } delayMarker && File.Exists(delayMarker))
        {
            await Task.Delay(int.Parse(configuration["TestApp:DelayStartMs"] ?? "5000", System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        }
    }

    // App code that ignores its token when stopped (TestApp:IgnoreStop): it never returns.
    public Task StopAsync(CancellationToken cancellationToken)
        => configuration["TestApp:IgnoreStop"] == "true" ? Task.Delay(Timeout.Infinite, CancellationToken.None) : Task.CompletedTask;
}

/// <summary>Logs every lifecycle hook as one line, "Hook {Event}." (TestApp:LogHooks); it depends on the pool.</summary>
internal sealed class HookLog(IWorkerPool pool, ILogger<HookLog> logger) : IWorkerLifecycleObserver
{
    public Task OnPoolStartingAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => Log($"PoolStarting {poolEvent.Count}");

    public Task OnPoolReadyAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => Log($"PoolReady {poolEvent.ReadyCount}/{poolEvent.Count}, {pool.GetWorkers().Count(w => w.State == WorkerState.Ready)} serving");

    public Task OnWorkerBootingAsync(WorkerEvent workerEvent, CancellationToken cancellationToken)
        => Log($"Booting {workerEvent.Slot}/{workerEvent.Generation}");

    public Task OnWorkerReadyAsync(WorkerEvent workerEvent, CancellationToken cancellationToken)
        => Log($"Ready {workerEvent.Slot}/{workerEvent.Generation}");

    public Task OnWorkerExitedAsync(WorkerExitedEvent exitedEvent, CancellationToken cancellationToken)
        => Log($"Exited {exitedEvent.Slot}/{exitedEvent.Generation} {exitedEvent.Reason}");

    public Task OnReloadStartingAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => Log($"ReloadStarting {poolEvent.Count}");

    public Task OnReloadEndedAsync(WorkerReloadResult result, CancellationToken cancellationToken)
        => Log($"ReloadEnded {(result.Succeeded ? "succeeded" : "failed")} {result.Replaced}");

    public Task OnCountChangedAsync(WorkerCountChangedEvent countEvent, CancellationToken cancellationToken)
        => Log($"CountChanged {countEvent.PreviousCount}->{countEvent.Count}");

    public Task OnPoolStoppingAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => Log($"PoolStopping {poolEvent.ReadyCount}/{poolEvent.Count}");

    public Task OnPoolStoppedAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => Log("PoolStopped");

    private Task Log(string hook)
    {
        logger.LogInformation("Hook {Hook}.", hook);
        return Task.CompletedTask;
    }
}

/// <summary>A background service that fails when asked to (and so stops its host, the default behaviour).</summary>
internal sealed class FailOnDemand : BackgroundService
{
    public static readonly TaskCompletionSource Trigger = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Trigger.Task.WaitAsync(stoppingToken);
        throw new InvalidOperationException("FailOnDemand failed as asked.");
    }
}

/// <summary>Visible to WebApplicationFactory.</summary>
public partial class Program;
