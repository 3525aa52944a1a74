using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddSingleton<TickCounter>();
builder.Services.AddHostedService<TickService>();

var app = builder.Build();

app.MapGet("/", () => "Hello World!");
app.MapGet("/ticks", (TickCounter counter) => counter.Ticks);

app.Run();

class TickCounter
{
    private long _ticks;
    public long Ticks => Interlocked.Read(ref _ticks);
    public void Tick() => Interlocked.Increment(ref _ticks);
}

class TickService(TickCounter counter, ILogger<TickService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                counter.Tick();
            }
        }
        catch (OperationCanceledException)
        {
            logger.LogInformation("Ticking stopped after {Ticks} ticks.", counter.Ticks);
        }
    }
}
