using Microsoft.Extensions.Hosting;

namespace WorkerHosting.Tests.Fakes;

/// <summary>A hosted service with the full lifecycle that records every call (and its creation) in a log.</summary>
internal sealed class RecordingHostedService : IHostedLifecycleService, IDisposable
{
    private readonly HostedServiceLog _log;

    public RecordingHostedService(HostedServiceLog log)
    {
        _log = log;
        _log.Add("Created");
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Record("Starting");

    public Task StartAsync(CancellationToken cancellationToken) => Record("Start");

    public Task StartedAsync(CancellationToken cancellationToken) => Record("Started");

    public Task StoppingAsync(CancellationToken cancellationToken) => Record("Stopping");

    public Task StopAsync(CancellationToken cancellationToken) => Record("Stop");

    public Task StoppedAsync(CancellationToken cancellationToken) => Record("Stopped");

    public void Dispose() => _log.Add("Disposed");

    private Task Record(string name)
    {
        _log.Add(name);
        return Task.CompletedTask;
    }
}
