using Microsoft.Extensions.Hosting;

namespace WorkerHosting.Workers;

/// <summary>
/// A worker's host lifetime: it handles no signal. Only the coordinator listens for Ctrl+C and SIGTERM and
/// stops the workers through their application lifetime, so one signal drains the process once.
/// </summary>
internal sealed class WorkerHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
