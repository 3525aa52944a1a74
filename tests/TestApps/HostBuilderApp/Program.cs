using HostBuilderApp;
using WorkerHosting;

// The older generic-host shape (IHostBuilder with ConfigureWebHostDefaults), with UseWorkers called before the web
// host is added, and a BackgroundService that must run in every worker and never in the coordinator.
await Host.CreateDefaultBuilder(args)
    .UseWorkers(options => options.Count = 2)
    .ConfigureServices(services => services.AddHostedService<Heartbeat>().AddSingleton<IGreeting, Greeting>())
    .ConfigureWebHostDefaults(web => web.Configure(app => app.Run(async context =>
    {
        var worker = context.RequestServices.GetRequiredService<IWorkerContext>();
        var text = context.Request.Path == "/greeting"
            ? $"{worker.Slot} {context.RequestServices.GetRequiredService<IGreeting>().Text}"
            : $"{worker.Role} {worker.Slot} heartbeat={Heartbeat.Beats > 0}";
        await context.Response.WriteAsync(text);
    })))
    .Build()
    .RunAsync();

internal sealed class Heartbeat(IWorkerContext worker, ILogger<Heartbeat> logger) : BackgroundService
{
    public static int Beats;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Interlocked.Increment(ref Beats);
        logger.LogInformation("Heartbeat from {Role} {Slot}.", worker.Role, worker.Slot);
        return Task.CompletedTask;
    }
}
