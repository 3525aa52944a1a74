using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using WorkerHosting.Coordinator;
using WorkerHosting.Diagnostics;
using WorkerHosting.Listeners;

namespace WorkerHosting.Workers;

/// <summary>
/// Creates the real workers: each runs the app's entry point in its own collectible load context and serves the shared
/// endpoints through the coordinator's hand-off.
/// </summary>
internal sealed class WorkerFactory : IWorkerFactory, IDisposable
{
    private readonly WorkerApplication _application;
    private readonly SharedEndpoints _endpoints;
    private readonly Func<IWorkerPool> _pool;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _lifetimeLogger;
    private readonly TimeProvider _timeProvider;
    private readonly WorkersMetrics _metrics;
    private readonly ShutdownState _shutdown;
    private readonly Lazy<SharedAssemblies> _sharedAssemblies = new(SharedAssemblies.Create);
    private readonly Lazy<SocketConnectionContextFactory> _connectionFactory;
    private readonly CoordinatorPipeline? _coordinatorPipeline;
    private readonly System.Diagnostics.Metrics.IMeterFactory? _sharedMeters;

    public WorkerFactory(
        WorkerApplication application,
        SharedEndpoints endpoints,
        SocketTransportSettings transport,
        Func<IWorkerPool> pool,
        WorkersMetrics metrics,
        ShutdownState shutdown,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        CoordinatorPipeline? coordinatorPipeline = null,
        System.Diagnostics.Metrics.IMeterFactory? sharedMeters = null)
    {
        _coordinatorPipeline = coordinatorPipeline;
        _sharedMeters = sharedMeters;
        _metrics = metrics;
        _shutdown = shutdown;
        _application = application;
        _endpoints = endpoints;
        _pool = pool;
        _loggerFactory = loggerFactory;
        _lifetimeLogger = loggerFactory.CreateLogger(WorkersLogCategories.Lifetime);
        _timeProvider = timeProvider;
        _connectionFactory = new(() => transport.CreateConnectionFactory(_loggerFactory));
    }

    public IWorkerHandle Create(int slot, int generation, WorkersOptions options, Action<IWorkerHandle> onRequestLimitReached)
    {
        // The coordinator's paths are final once its host has started (workers start after it): found, and logged, once.
        _ = _coordinatorPipeline?.Paths;
        var runtime = new WorkerRuntime(slot, generation, _application.Args, options.GracefulTimeout, _endpoints, _connectionFactory.Value, _lifetimeLogger, _timeProvider, _pool(), _metrics, _shutdown)
        {
            Overrides = _application.Overrides,
            Coordinator = _coordinatorPipeline,
            SharedMeters = _sharedMeters,
        };
        var worker = new WorkerInstance(runtime, _application, _sharedAssemblies.Value, _lifetimeLogger, _timeProvider);
        if (options.MaxRequests > 0)
        {
            runtime.SetRequestLimit(options.MaxRequests + Random.Shared.NextInt64(0, options.MaxRequestsJitter + 1), () => onRequestLimitReached(worker));
        }

        return worker;
    }

    public void Dispose()
    {
        if (_connectionFactory.IsValueCreated)
        {
            _connectionFactory.Value.Dispose();
        }
    }
}
