using Microsoft.Extensions.Hosting;

namespace WorkerHosting.Tests.Fakes;

/// <summary>A hosted service with only StartAsync and StopAsync, disposed asynchronously.</summary>
internal sealed class PlainHostedService(HostedServiceLog log) : IHostedService, IAsyncDisposable
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        log.Add("Start");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        log.Add("Stop");
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        log.Add("DisposedAsync");
        return ValueTask.CompletedTask;
    }
}
