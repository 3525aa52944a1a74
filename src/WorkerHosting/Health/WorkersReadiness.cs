using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace WorkerHosting.Health;

/// <summary>What the pool looks like to a readiness probe at one moment.</summary>
internal readonly record struct WorkersReadiness(bool Stopping, int Slots, int ReadySlots, int RestartingSlots)
{
    /// <summary>
    /// Healthy when every slot has a ready worker; Degraded while some slot has none (it restarts, or is starting), as
    /// long as one worker serves; Unhealthy once the process is stopping, or when no worker is ready.
    /// </summary>
    public HealthStatus Status => Stopping || ReadySlots == 0
        ? HealthStatus.Unhealthy
        : ReadySlots < Slots ? HealthStatus.Degraded : HealthStatus.Healthy;

    public string Description => Stopping
        ? "The process is stopping: send new work elsewhere."
        : ReadySlots == 0
            ? $"No worker is ready (0 of {Slots} slots)."
            : ReadySlots < Slots
                ? $"{ReadySlots} of {Slots} slots have a ready worker ({RestartingSlots} restarting)."
                : $"All {Slots} slots have a ready worker.";
}
