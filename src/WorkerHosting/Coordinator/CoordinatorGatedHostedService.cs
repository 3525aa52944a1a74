using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace WorkerHosting.Coordinator;

/// <summary>
/// Stands in, in the coordinator's host, for one of the app's hosted services. The app's hosted services run in
/// every worker, not in the coordinator, so the service is created only when the app runs standalone.
/// </summary>
internal sealed class CoordinatorGatedHostedService(IServiceProvider services, ServiceDescriptor descriptor, CoordinatorMode mode)
    : IHostedLifecycleService, IAsyncDisposable
{
    private IHostedService? _inner;
    private bool _resolved;

    private IHostedService? Inner
    {
        get
        {
            if (!_resolved)
            {
                _resolved = true;
                if (mode.IsStandalone)
                {
                    _inner = Create();
                }
            }

            return _inner;
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken)
        => Inner is IHostedLifecycleService lifecycle ? lifecycle.StartingAsync(cancellationToken) : Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
        => Inner?.StartAsync(cancellationToken) ?? Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
        => Inner is IHostedLifecycleService lifecycle ? lifecycle.StartedAsync(cancellationToken) : Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken)
        => _inner is IHostedLifecycleService lifecycle ? lifecycle.StoppingAsync(cancellationToken) : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
        => _inner?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
        => _inner is IHostedLifecycleService lifecycle ? lifecycle.StoppedAsync(cancellationToken) : Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        // The container would have disposed what it created; a registered instance is the app's to dispose.
        if (descriptor.ImplementationInstance is not null)
        {
            return;
        }

        switch (_inner)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    private IHostedService Create() => (IHostedService)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(services)
        ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
