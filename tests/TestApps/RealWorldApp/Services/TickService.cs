namespace RealWorldApp.Services;

/// <summary>How many times this worker's background service ticked, and a signal for the next tick.</summary>
public sealed class TickCounter
{
    private long _ticks;
    private TaskCompletionSource _nextTick = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Ticks => Interlocked.Read(ref _ticks);

    /// <summary>Completes at the first tick after the call.</summary>
    public Task NextTickAsync(CancellationToken cancellationToken) => Volatile.Read(ref _nextTick).Task.WaitAsync(cancellationToken);

    public void Tick()
    {
        Interlocked.Increment(ref _ticks);
        Interlocked.Exchange(ref _nextTick, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
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
                // The metric first: whoever waits for the tick then finds it in /metrics too.
                telemetry.Ticked();
                counter.Tick();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
