using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using WorkerHosting.Diagnostics;
using WorkerHosting.Lifecycle;
using WorkerHosting.Listeners;
using WorkerHosting.Workers;

namespace WorkerHosting.Coordinator;

/// <summary>
/// The hosted service that runs the pool in the process's lifetime: it starts the workers once the coordinator's server
/// has bound the shared endpoints, turns signals and configuration changes into pool operations, and on stop stops
/// accepting, then drains and unloads the workers.
/// </summary>
internal sealed partial class WorkerCoordinator : IHostedLifecycleService, IDisposable
{
    private readonly IOptions<WorkersOptions> _options;
    private readonly IOptionsFactory<WorkersOptions> _optionsFactory;
    private readonly IConfiguration _configuration;
    private readonly CoordinatorMode _mode;
    private readonly SharedEndpoints _endpoints;
    private readonly WorkerPool _pool;
    private readonly WorkerApplication _application;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _lifetimeLogger;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly List<IDisposable> _subscriptions = [];
    private volatile bool _stopping;
    private volatile bool _fastStop;

    public WorkerCoordinator(
        IOptions<WorkersOptions> options,
        IOptionsFactory<WorkersOptions> optionsFactory,
        IConfiguration configuration,
        CoordinatorMode mode,
        SharedEndpoints endpoints,
        WorkerPool pool,
        WorkerApplication application,
        IHostApplicationLifetime lifetime,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider)
    {
        _options = options;
        _optionsFactory = optionsFactory;
        _configuration = configuration;
        _mode = mode;
        _endpoints = endpoints;
        _pool = pool;
        _application = application;
        _lifetime = lifetime;
        _lifetimeLogger = loggerFactory.CreateLogger(WorkersLogCategories.Lifetime);
        _logger = loggerFactory.CreateLogger<WorkerCoordinator>();
        _timeProvider = timeProvider;
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

        // Before any worker starts: a SIGHUP's default action would end the process.
        RegisterSignals();

        var options = _options.Value;
        var started = _timeProvider.GetTimestamp();
        var addresses = string.Join(", ", _endpoints.Listeners.Select(l => l.LocalEndPoint));
        Log.WorkersStarting(_lifetimeLogger, options.Count, addresses.Length == 0 ? "(no endpoints)" : addresses);

        // If none of the workers can start, this throws with every distinct failure, and the host reports it.
        await _pool.StartAsync(cancellationToken).ConfigureAwait(false);

        _subscriptions.Add(ChangeToken.OnChange(_configuration.GetReloadToken, OnConfigurationChanged));
        if (options.Watch)
        {
            var directory = Path.GetDirectoryName(_application.AssemblyPath)!;
            _subscriptions.Add(new AppWatcher(directory, _timeProvider, () =>
            {
                Log.WatchTriggered(_lifetimeLogger, directory);
                _ = _pool.ReloadAsync(CancellationToken.None);
            }));
        }

        _endpoints.StartAccepting();
        Log.WorkersStarted(_lifetimeLogger, _pool.GetWorkers().Count(w => w.State == WorkerState.Ready), options.Count, _timeProvider.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>Stops accepting connections: what is already queued is handed to the workers, new ones are refused.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        DisposeSubscriptions();
        if (_mode.IsStandalone)
        {
            return;
        }

        await _endpoints.StopAcceptingAsync().ConfigureAwait(false);
        Log.StoppedAccepting(_lifetimeLogger);
    }

    /// <summary>
    /// Drains every worker at once within the graceful timeout (none on SIGQUIT), then unloads them.
    /// <paramref name="cancellationToken"/> is the host's hard deadline.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (_mode.IsStandalone)
        {
            return Task.CompletedTask;
        }

        var graceful = _fastStop ? TimeSpan.Zero : _pool.Options.GracefulTimeout;
        return _pool.StopAsync(graceful, cancellationToken);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => DisposeSubscriptions();

    private void DisposeSubscriptions()
    {
        lock (_subscriptions)
        {
            foreach (var subscription in _subscriptions)
            {
                subscription.Dispose();
            }

            _subscriptions.Clear();
        }
    }

    /// <summary>
    /// gunicorn's signals: SIGHUP reloads, SIGTTIN adds a worker, SIGTTOU removes one, SIGQUIT stops without draining.
    /// SIGTERM and SIGINT stay with the host's console lifetime, which stops the app, and so drains the workers.
    /// </summary>
    private void RegisterSignals()
    {
        if (OperatingSystem.IsWindows() || OperatingSystem.IsBrowser())
        {
            return;
        }

        lock (_subscriptions)
        {
            _subscriptions.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context => OnSignal(context, "SIGHUP", () => _pool.ReloadAsync(CancellationToken.None))));
            _subscriptions.Add(PosixSignalRegistration.Create(PosixSignal.SIGTTIN, context => OnSignal(context, "SIGTTIN", () => _pool.ScaleByAsync(1))));
            _subscriptions.Add(PosixSignalRegistration.Create(PosixSignal.SIGTTOU, context => OnSignal(context, "SIGTTOU", () => _pool.ScaleByAsync(-1))));
            _subscriptions.Add(PosixSignalRegistration.Create(PosixSignal.SIGQUIT, context =>
            {
                context.Cancel = true;
                if (!_stopping)
                {
                    _fastStop = true;
                    Log.FastStop(_lifetimeLogger);
                    _lifetime.StopApplication();
                }
            }));
        }
    }

    private void OnSignal(PosixSignalContext context, string name, Func<Task> operation)
    {
        // The default action of SIGHUP ends the process, and of SIGTTIN/SIGTTOU suspends it.
        context.Cancel = true;
        if (_stopping)
        {
            Log.SignalIgnored(_lifetimeLogger, name);
            return;
        }

        Log.SignalReceived(_lifetimeLogger, name);

        // The pool tracks the operation and awaits it on stop; signals of a burst coalesce or queue there.
        _ = operation();
    }

    /// <summary>
    /// A changed configuration is bound and validated again: an invalid one is rejected (the last good options stay); a
    /// new Workers:Count scales the pool; other values apply to the workers and operations that come next.
    /// </summary>
    private void OnConfigurationChanged()
    {
        if (_stopping)
        {
            return;
        }

        WorkersOptions next;
        try
        {
            next = _optionsFactory.Create(Options.DefaultName);
        }
        catch (Exception e) when (e is OptionsValidationException or InvalidOperationException)
        {
            Log.OptionsReloadRejected(_logger, e.Message);
            return;
        }

        var previous = _pool.Options;
        _pool.ChangeOptions(next);
        if (next.Count != previous.Count)
        {
            _ = _pool.ScaleAsync(next.Count, CancellationToken.None);
        }
    }
}
