using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using WorkerHosting.Diagnostics;
using WorkerHosting.Listeners;
using WorkerHosting.Workers;

namespace WorkerHosting.Coordinator;

/// <summary>
/// The hosted service that owns the workers. It starts them once the coordinator's server has bound the shared
/// endpoints, hands connections to them, and on stop stops accepting, drains them within the graceful timeout,
/// and unloads them.
/// </summary>
internal sealed partial class WorkerCoordinator : IHostedLifecycleService, IDisposable
{
    /// <summary>Bounds the garbage collections spent confirming that an unloaded worker's context is gone.</summary>
    private const int UnloadCollectionAttempts = 10;

    private readonly IOptions<WorkersOptions> _options;
    private readonly CoordinatorMode _mode;
    private readonly SharedEndpoints _endpoints;
    private readonly WorkerApplication _application;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ILogger _lifetimeLogger;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private readonly List<WorkerInstance> _workers = [];
    private readonly List<Task> _exitWatchers = [];
    private SocketConnectionContextFactory? _connectionFactory;
    private bool _stopping;

    public WorkerCoordinator(
        IOptions<WorkersOptions> options,
        CoordinatorMode mode,
        SharedEndpoints endpoints,
        WorkerApplication application,
        IHostApplicationLifetime lifetime,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider)
    {
        _options = options;
        _mode = mode;
        _endpoints = endpoints;
        _application = application;
        _lifetime = lifetime;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<WorkerCoordinator>();
        _lifetimeLogger = loggerFactory.CreateLogger(WorkersLogCategories.Lifetime);
        _timeProvider = timeProvider;
    }

    public IReadOnlyList<WorkerInstance> Workers
    {
        get
        {
            lock (_lock)
            {
                return [.. _workers];
            }
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Starts the workers after every hosted service has started, so the coordinator's server has bound (and
    /// resolved) every endpoint the workers will listen on.
    /// </summary>
    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        if (_mode.IsStandalone)
        {
            Log.StandaloneMode(_lifetimeLogger);
            return;
        }

        var options = _options.Value;
        var started = _timeProvider.GetTimestamp();
        var sharedAssemblies = SharedAssemblies.Create();
        _connectionFactory = new SocketConnectionContextFactory(
            new SocketConnectionFactoryOptions(),
            _loggerFactory.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets"));

        var addresses = string.Join(", ", _endpoints.Listeners.Select(l => l.LocalEndPoint));
        Log.WorkersStarting(_lifetimeLogger, options.Count, addresses.Length == 0 ? "(no endpoints)" : addresses);

        var args = CreateWorkerArgs();
        var workers = new WorkerInstance[options.Count];
        for (var slot = 0; slot < workers.Length; slot++)
        {
            var runtime = new WorkerRuntime(slot, 1, args, options.GracefulTimeout, _endpoints, _connectionFactory, _logger, _timeProvider);
            workers[slot] = new WorkerInstance(runtime, _application, sharedAssemblies, _lifetimeLogger, _timeProvider);
            workers[slot].Start();
        }

        var failures = await Task.WhenAll(workers.Select(w => w.WaitUntilReadyAsync(cancellationToken))).ConfigureAwait(false);

        Exception? firstFailure = null;
        lock (_lock)
        {
            for (var i = 0; i < workers.Length; i++)
            {
                var worker = workers[i];
                if (failures[i] is { } failure)
                {
                    firstFailure ??= failure;
                    Log.WorkerFailedToStart(_logger, worker.Slot, worker.Generation, failure);
                    worker.Unload();
                    continue;
                }

                _workers.Add(worker);
                worker.Runtime.ActivateListeners();
                _exitWatchers.Add(WatchForExitAsync(worker));
                Log.WorkerReady(_lifetimeLogger, worker.Slot, worker.Generation, worker.StartDuration.TotalMilliseconds);
            }
        }

        if (firstFailure is not null && _workers.Count == 0)
        {
            Log.NoWorkerStarted(_lifetimeLogger, workers.Length);
            throw new InvalidOperationException(
                $"None of the {workers.Length} workers could start. The first worker failed with: {firstFailure.Message}", firstFailure);
        }

        _endpoints.StartAccepting();
        Log.WorkersStarted(_lifetimeLogger, _workers.Count, workers.Length, _timeProvider.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>Stops accepting connections: what is already queued is handed to the workers, new ones are refused.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_mode.IsStandalone)
        {
            return;
        }

        lock (_lock)
        {
            _stopping = true;
        }

        await _endpoints.StopAcceptingAsync().ConfigureAwait(false);
        Log.StoppedAccepting(_lifetimeLogger);
    }

    /// <summary>
    /// Drains every worker at once within the graceful timeout (each worker's host aborts what is left when it
    /// runs out), then unloads them. <paramref name="cancellationToken"/> is the host's hard deadline.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_mode.IsStandalone)
        {
            return;
        }

        WorkerInstance[] workers;
        lock (_lock)
        {
            _stopping = true;
            workers = [.. _workers];
        }

        var started = _timeProvider.GetTimestamp();
        Log.WorkersDraining(_lifetimeLogger, workers.Length, _options.Value.GracefulTimeout);

        var exited = await Task.WhenAll(workers.Select(w => w.StopAsync(redirectConnections: false, cancellationToken))).ConfigureAwait(false);
        await Task.WhenAll(_exitWatchers).ConfigureAwait(false);

        var unloading = new List<(WorkerInstance Worker, WeakReference Context)>();
        for (var i = 0; i < workers.Length; i++)
        {
            if (exited[i] && workers[i].Unload() is { } context)
            {
                unloading.Add((workers[i], context));
            }
        }

        await VerifyUnloadedAsync(unloading).ConfigureAwait(false);
        Log.WorkersStopped(_lifetimeLogger, workers.Length, _timeProvider.GetElapsedTime(started).TotalMilliseconds);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _connectionFactory?.Dispose();

    /// <summary>
    /// Confirms that each unloaded worker's load context is collected, within a bounded number of collections,
    /// and says which ones stay alive (something outside the worker still references its code).
    /// </summary>
    private async Task VerifyUnloadedAsync(List<(WorkerInstance Worker, WeakReference Context)> unloading)
    {
        if (unloading.Count == 0)
        {
            return;
        }

        MetadataUpdateHandlers.ClearCaches();
        for (var attempt = 0; attempt < UnloadCollectionAttempts && unloading.Exists(u => u.Context.IsAlive); attempt++)
        {
            CollectGarbage();

            // Give threads the worker left behind (timers, pipe callbacks) a moment to finish.
            await Task.Delay(TimeSpan.FromMilliseconds(10), _timeProvider).ConfigureAwait(false);
        }

        foreach (var (worker, context) in unloading)
        {
            if (context.IsAlive)
            {
                Log.WorkerUnloadLeaked(_logger, worker.Slot, worker.Generation);
            }
            else
            {
                Log.WorkerUnloaded(_lifetimeLogger, worker.Slot, worker.Generation);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CollectGarbage()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private async Task WatchForExitAsync(WorkerInstance worker)
    {
        var exception = await worker.Runtime.Exited.ConfigureAwait(false);

        bool noneLeft;
        lock (_lock)
        {
            if (_stopping)
            {
                return;
            }

            _workers.Remove(worker);
            noneLeft = _workers.Count == 0;
        }

        // The worker ended on its own (its app stopped it, or its entry point returned or threw).
        worker.Runtime.DeactivateListeners();
        Log.WorkerExitedUnexpectedly(_logger, worker.Slot, worker.Generation, exception);
        worker.Unload();

        if (noneLeft)
        {
            Log.NoWorkersLeft(_lifetimeLogger);
            Environment.ExitCode = WorkersExitCodes.NoWorkers;
            _lifetime.StopApplication();
        }
    }

    /// <summary>
    /// The coordinator's command line, for every worker's entry point, with configuration file watching turned off
    /// (N hosts each watching the same files exhaust the system's inotify instances; the coordinator watches).
    /// </summary>
    private static string[] CreateWorkerArgs()
        => [.. Environment.GetCommandLineArgs().Skip(1), "--hostBuilder:reloadConfigOnChange=false"];
}
