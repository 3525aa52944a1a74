using Microsoft.Extensions.Hosting;

namespace WorkerHosting.Workers;

/// <summary>
/// Runs inside a worker's host, registered after the app's own services. It tells the coordinator when the
/// host has started (the worker is ready), gives it the means to stop the host, and reports what a drain cut
/// when the graceful timeout runs out.
/// </summary>
internal sealed class WorkerAgent(WorkerRuntime runtime, IHostApplicationLifetime lifetime) : IHostedLifecycleService
{
    private CancellationTokenRegistration _drainDeadline;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        runtime.OnHostStarted(lifetime.StopApplication);
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        // The host's stop token fires when its shutdown timeout (the graceful timeout) has run out: Kestrel
        // aborts what is left at that moment, so that is when to count it.
        _drainDeadline = cancellationToken.UnsafeRegister(static state => ((WorkerRuntime)state!).OnDrainDeadline(), runtime);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        _drainDeadline.Dispose();
        return Task.CompletedTask;
    }
}
