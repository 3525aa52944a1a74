namespace RealWorldApp.Services;

/// <summary>How many times this worker's background service ticked.</summary>
public sealed class TickCounter
{
    private long _ticks;

    public long Ticks => Interlocked.Read(ref _ticks);

    public void Tick() => Interlocked.Increment(ref _ticks);
}

/// <summary>Periodic background work, as apps do for cleanups, polling and refreshes.</summary>
public sealed class TickService(TickCounter counter, AppTelemetry telemetry, IConfiguration configuration, ILogger<TickService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = configuration.GetValue("Background:Period", TimeSpan.FromMilliseconds(100));
        logger.LogInformation("Ticking every {Period}.", period);
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                counter.Tick();
                telemetry.Ticked();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
