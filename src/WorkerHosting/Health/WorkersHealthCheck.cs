using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using WorkerHosting.Coordinator;

namespace WorkerHosting.Health;

/// <summary>
/// The <c>workers</c> readiness check. It reads the coordinator's pool, so it answers the same from any worker that
/// serves the probe; in a standalone host (a test server, or an app that does not call UseWorkers) there is no pool, and the check follows the host's lifetime.
/// </summary>
internal sealed class WorkersHealthCheck(IWorkerPool? pool, IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);

        if (pool is not WorkerPool { IsRunning: true } workers)
        {
            var stopping = lifetime.ApplicationStopping.IsCancellationRequested;
            return Task.FromResult(new HealthCheckResult(
                stopping ? context.Registration.FailureStatus : HealthStatus.Healthy,
                stopping ? "The app is stopping." : "The app runs without workers (standalone)."));
        }

        var readiness = workers.GetReadiness();
        var status = readiness.Status == HealthStatus.Unhealthy ? context.Registration.FailureStatus : readiness.Status;
        var data = new Dictionary<string, object>
        {
            ["slots"] = readiness.Slots,
            ["readySlots"] = readiness.ReadySlots,
            ["restartingSlots"] = readiness.RestartingSlots,
            ["stopping"] = readiness.Stopping,
        };

        return Task.FromResult(new HealthCheckResult(status, readiness.Description, data: data));
    }
}
