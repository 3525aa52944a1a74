using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using WorkerHosting;
using WorkerHosting.Health;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds the readiness check of the workers to an app's health checks.
/// </summary>
public static class WorkersHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check, named <c>workers</c> and tagged <c>ready</c>, that is <see cref="HealthStatus.Healthy"/> when
    /// every worker slot has a ready worker, <see cref="HealthStatus.Degraded"/> while some slot has none (its worker
    /// restarts) and another serves, and unhealthy once the process is stopping (its shutdown delay included) or when no
    /// worker is ready.
    /// </summary>
    /// <param name="builder">The app's health checks builder (<c>builder.Services.AddHealthChecks()</c>).</param>
    /// <param name="name">The check's name. Defaults to <c>workers</c>.</param>
    /// <param name="failureStatus">The status reported when the check fails. Defaults to <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">The check's tags. Defaults to <c>ready</c>, for a readiness endpoint that maps the checks so tagged.</param>
    /// <returns>The builder, to chain more checks.</returns>
    /// <remarks>
    /// The check reads the coordinator's pool, so it answers the same from whichever worker serves the probe. In a host that
    /// runs standalone (a test server) it is healthy until the host stops. A liveness endpoint should not include it: a
    /// process whose workers restart is alive.
    /// </remarks>
    public static IHealthChecksBuilder AddWorkersCheck(
        this IHealthChecksBuilder builder,
        string name = "workers",
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);

        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new WorkersHealthCheck(sp.GetService<IWorkerPool>(), sp.GetRequiredService<IHostApplicationLifetime>()),
            failureStatus,
            tags ?? ["ready"]));
    }
}
