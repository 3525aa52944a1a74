using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using WorkerHosting.Configuration;
using WorkerHosting.Diagnostics;
using WorkerHosting.Lifecycle;
using WorkerHosting.Listeners;
using WorkerHosting.Systemd;
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
    private readonly SystemdReporter _systemd;
    private readonly ProcessUpgrade _upgrade;
    private readonly List<IDisposable> _subscriptions = [];
    private readonly List<IDisposable> _stopSignals = [];
    private readonly CancellationTokenSource _endShutdownDelay = new();
    /// <summary>SIGUSR2 on Linux (not in <see cref="PosixSignal"/>; raw numbers are accepted).</summary>
    private const PosixSignal SigUsr2 = (PosixSignal)12;

    private volatile bool _stopping;
    private readonly Lock _stopLock = new();
    private Task? _stoppingTask;
    private Task? _stopTask;
    private volatile bool _fastStop;
    private int _stopSignalCount;
    private string? _pidFile;
    private int _shutdownDelayRunning;

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
        TimeProvider timeProvider,
        SystemdReporter systemd,
        ProcessUpgrade upgrade)
    {
        _systemd = systemd;
        _upgrade = upgrade;
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

        // Readiness ends as soon as the stop is asked for, before any hosted service begins to stop.
        _subscriptions.Add(_lifetime.ApplicationStopping.Register(static shutdown => ((ShutdownState)shutdown!).BeginStopping(), _pool.Shutdown));

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

        // Started by a hot upgrade: the previous process stops now (its PID file is ours first, so it leaves it), and
        // this one becomes systemd's main process.
        WritePidFile(options.PidFile);
        _upgrade.ReportReadyToPreviousProcess();
        _systemd.Started(becomeMainProcess: _upgrade.StartedByUpgrade);
        _pool.Loop.UnloadVerifier.LeakLimitExceeded += OnLeakLimitExceeded;
        Log.WorkersStarted(_lifetimeLogger, _pool.GetWorkers().Count(w => w.State == WorkerState.Ready), options.Count, _timeProvider.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// Runs the shutdown delay (the workers keep serving and ask clients to move), then stops accepting connections: what
    /// is already queued is handed to the workers, new ones are refused.
    /// </summary>
    /// <remarks>
    /// A host can be stopped twice at once (WebApplicationFactory stops it while the app's <c>Run()</c>, seeing it stop, stops
    /// it too): the second stop waits for the first.
    /// </remarks>
    public Task StoppingAsync(CancellationToken cancellationToken)
        => Once(ref _stoppingTask, () => StoppingCoreAsync(cancellationToken), cancellationToken);

    private async Task StoppingCoreAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _pool.Shutdown.BeginStopping();
        DisposeSubscriptions();
        if (_mode.IsStandalone)
        {
            return;
        }

        var options = _pool.Options;
        _systemd.Stopping((_fastStop ? TimeSpan.Zero : options.ShutdownDelay + options.GracefulTimeout) + WorkersDefaults.ShutdownMargin);

        // After a hot upgrade the next process serves the same sockets: no delay, and what is queued is left to it. A stop
        // during an upgrade that has not handed over stops the new process as well.
        var handedOver = _pool.Shutdown.HandedOver;
        if (!handedOver)
        {
            _upgrade.CancelForStop();
            await RunShutdownDelayAsync(cancellationToken).ConfigureAwait(false);
        }

        await _endpoints.StopAcceptingAsync(leaveQueued: handedOver).ConfigureAwait(false);
        Log.StoppedAccepting(_lifetimeLogger);
    }

    /// <summary>
    /// The lame-duck period (Workers:ShutdownDelay): readiness is already unhealthy, and the process keeps accepting and
    /// serving while every response asks its client to reconnect, so a load balancer that still routes here for a while
    /// (Kubernetes, after SIGTERM) loses nothing. A second SIGTERM or SIGINT, SIGQUIT, or the host's deadline ends it.
    /// </summary>
    private async Task RunShutdownDelayAsync(CancellationToken cancellationToken)
    {
        var delay = _pool.Options.ShutdownDelay;
        if (delay <= TimeSpan.Zero || _fastStop || !_pool.IsRunning)
        {
            return;
        }

        _pool.Shutdown.AskClientsToLeave();
        Log.ShutdownDelayStarted(_lifetimeLogger, delay);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _endShutdownDelay.Token);
        Volatile.Write(ref _shutdownDelayRunning, 1);
        try
        {
            await Task.Delay(delay, _timeProvider, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Ended early: the log says by what.
        }
        finally
        {
            Volatile.Write(ref _shutdownDelayRunning, 0);
        }
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

        return Once(ref _stopTask, () => _pool.StopAsync(_fastStop ? TimeSpan.Zero : _pool.Options.GracefulTimeout, cancellationToken), cancellationToken);
    }

    /// <summary>Runs a stage of the stop once; a second caller waits for the first's, within its own deadline.</summary>
    private Task Once(ref Task? stage, Func<Task> run, CancellationToken cancellationToken)
    {
        Task first;
        lock (_stopLock)
        {
            if (stage is null)
            {
                stage = run();
                return stage;
            }

            first = stage;
        }

        return WaitForFirstAsync(first, cancellationToken);

        static async Task WaitForFirstAsync(Task first, CancellationToken cancellationToken)
        {
            try
            {
                await first.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // This caller's deadline: the first stop goes on.
            }
        }
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        _pool.Loop.UnloadVerifier.LeakLimitExceeded -= OnLeakLimitExceeded;
        DeletePidFile();
        return Task.CompletedTask;
    }

    /// <summary>Workers:PidFile: written (whole, by rename) once the workers are ready.</summary>
    private void WritePidFile(string? path)
    {
        if (path is null)
        {
            return;
        }

        try
        {
            var temporary = path + ".tmp";
            File.WriteAllText(temporary, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
            File.Move(temporary, path, overwrite: true);
            _pidFile = path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.PidFileFailed(_logger, path, e);
        }
    }

    /// <summary>Deleted at exit, unless it names another process now (the one a hot upgrade started).</summary>
    private void DeletePidFile()
    {
        if (_pidFile is not { } path)
        {
            return;
        }

        try
        {
            if (File.ReadAllText(path).Trim() == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone already, or not ours to delete.
        }
    }

    /// <summary>Workers:UpgradeOnLeakLimit: a process that holds too many leaked workers replaces itself.</summary>
    private void OnLeakLimitExceeded()
    {
        if (_stopping || !_pool.Options.UpgradeOnLeakLimit)
        {
            return;
        }

        Log.UpgradingForLeaks(_lifetimeLogger, _pool.Options.MaxLeakedWorkers);
        _ = _upgrade.UpgradeAsync(CancellationToken.None);
    }

    public void Dispose()
    {
        DisposeSubscriptions();
        lock (_stopSignals)
        {
            foreach (var registration in _stopSignals)
            {
                registration.Dispose();
            }

            _stopSignals.Clear();
        }

        _endShutdownDelay.Dispose();
    }

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
            _subscriptions.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context => OnSignal(context, "SIGHUP", ReloadOnSignalAsync)));
            _subscriptions.Add(PosixSignalRegistration.Create(PosixSignal.SIGTTIN, context => OnSignal(context, "SIGTTIN", () => _pool.ScaleByAsync(1))));
            _subscriptions.Add(PosixSignalRegistration.Create(PosixSignal.SIGTTOU, context => OnSignal(context, "SIGTTOU", () => _pool.ScaleByAsync(-1))));
            if (OperatingSystem.IsLinux())
            {
                _subscriptions.Add(PosixSignalRegistration.Create(SigUsr2, context => OnSignal(context, "SIGUSR2", () => _upgrade.UpgradeAsync(CancellationToken.None))));
            }

            _subscriptions.Add(PosixSignalRegistration.Create(PosixSignal.SIGQUIT, context =>
            {
                context.Cancel = true;
                if (!_stopping)
                {
                    _fastStop = true;
                    Log.FastStop(_lifetimeLogger);
                    _lifetime.StopApplication();
                }
                else if (Volatile.Read(ref _shutdownDelayRunning) == 1)
                {
                    // During the shutdown delay (before the drain began): end it, and stop without draining.
                    _fastStop = true;
                    Log.FastStop(_lifetimeLogger);
                    EndShutdownDelay();
                }
            }));
        }

        // Kept until the coordinator is disposed (the delay runs after the other signals are released). The host's console
        // lifetime handles these signals too: its handler stops the app on the first.
        lock (_stopSignals)
        {
            _stopSignals.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => OnStopSignal("SIGTERM")));
            _stopSignals.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, context => OnStopSignal("SIGINT")));
        }
    }

    /// <summary>The second SIGTERM or SIGINT the process receives (the first stopped it) ends the shutdown delay.</summary>
    private void OnStopSignal(string name)
    {
        if (Interlocked.Increment(ref _stopSignalCount) < 2)
        {
            return;
        }

        if (Volatile.Read(ref _shutdownDelayRunning) == 1)
        {
            Log.ShutdownDelayEnded(_lifetimeLogger, name);
        }

        EndShutdownDelay();
    }

    private void EndShutdownDelay()
    {
        try
        {
            _endShutdownDelay.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The coordinator is gone: so is its delay.
        }
    }

    /// <summary>A SIGHUP's reload (systemd's <c>systemctl reload</c> sends it), reported to systemd as it begins and ends.</summary>
    private async Task ReloadOnSignalAsync()
    {
        _systemd.Reloading();
        WorkerReloadResult result;
        try
        {
            result = await _pool.ReloadAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            result = new WorkerReloadResult { Succeeded = false, Error = "the process is stopping" };
        }

        _systemd.Reloaded(result);
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
