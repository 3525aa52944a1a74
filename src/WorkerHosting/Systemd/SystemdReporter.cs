using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using WorkerHosting.Coordinator;
using WorkerHosting.Health;

namespace WorkerHosting.Systemd;

/// <summary>
/// Tells systemd, through its notify socket (<c>NOTIFY_SOCKET</c>), where the pool is: <c>READY=1</c> once the workers
/// serve, <c>RELOADING=1</c> and <c>READY=1</c> around a SIGHUP reload (what <c>Type=notify-reload</c> needs),
/// <c>STOPPING=1</c> with the time the stop may take, <c>STATUS=</c> lines, and <c>WATCHDOG=1</c> while the pool is
/// healthy. Only the coordinator reports: a worker's host never has a systemd lifetime.
/// </summary>
/// <remarks>
/// It reports whenever systemd gave the process a notify socket, whether or not the app calls <c>UseSystemd()</c>:
/// that extension turns itself on only when the parent process is systemd, which a process started by a hot upgrade is
/// not. When the app's host does have the <see cref="SystemdLifetime"/> (which sends <c>READY=1</c> when the host has
/// started, after the workers are ready, and <c>STOPPING=1</c> when it stops), those two are left to it, so each is sent
/// once.
/// </remarks>
internal sealed partial class SystemdReporter : IDisposable
{
    private readonly ISystemdNotifier _notifier;
    private readonly bool _lifetimeNotifies;
    private readonly WorkerPool _pool;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly TimeSpan? _watchdogInterval;
    private ITimer? _watchdog;
    private int _watchdogBusy;

    public SystemdReporter(ISystemdNotifier notifier, IHostLifetime? lifetime, WorkerPool pool, TimeProvider timeProvider, ILogger logger)
    {
        _notifier = notifier;
        _lifetimeNotifies = lifetime is SystemdLifetime;
        _pool = pool;
        _timeProvider = timeProvider;
        _logger = logger;
        _watchdogInterval = WatchdogInterval(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId);
    }

    public bool IsEnabled => _notifier.IsEnabled;

    /// <summary>
    /// The workers serve: <c>READY=1</c> (unless the host's systemd lifetime sends it), a status, and the watchdog starts.
    /// A process started by a hot upgrade also becomes the service's main process (<c>MAINPID=</c>; the unit needs
    /// <c>NotifyAccess=all</c>, since systemd takes it from a process that is not yet its main one).
    /// </summary>
    public void Started(bool becomeMainProcess = false)
    {
        if (!IsEnabled)
        {
            return;
        }

        // A hot-upgraded process has no systemd lifetime (its parent is the previous process), so it sends READY=1 itself.
        var mainProcess = becomeMainProcess ? string.Create(CultureInfo.InvariantCulture, $"MAINPID={Environment.ProcessId}\n") : "";
        var ready = becomeMainProcess || !_lifetimeNotifies ? "READY=1\n" : "";
        Send($"{mainProcess}{ready}STATUS={Status()}");
        if (_watchdogInterval is { } interval)
        {
            // Half the interval systemd allows, as sd_watchdog_enabled(3) advises.
            _watchdog = _timeProvider.CreateTimer(static state => ((SystemdReporter)state!).OnWatchdogTick(), this, interval / 2, interval / 2);
        }
    }

    /// <summary>A reload begins: <c>RELOADING=1</c> with the monotonic clock, as <c>Type=notify-reload</c> requires.</summary>
    public void Reloading()
    {
        if (IsEnabled)
        {
            Send(string.Create(CultureInfo.InvariantCulture, $"RELOADING=1\nMONOTONIC_USEC={MonotonicMicroseconds()}\nSTATUS=Reloading: {Status()}"));
        }
    }

    /// <summary>The reload ended, either way: <c>READY=1</c> and what came of it.</summary>
    public void Reloaded(WorkerReloadResult result)
    {
        if (IsEnabled)
        {
            var outcome = result.Succeeded ? $"reloaded {result.Replaced} workers" : $"reload failed ({result.Error}); the old workers serve";
            Send($"READY=1\nSTATUS={Status()}; {outcome} at {_timeProvider.GetUtcNow():HH:mm:ss}Z");
        }
    }

    /// <summary>
    /// The stop begins: <c>STOPPING=1</c> (unless the host's systemd lifetime sent it), and <c>EXTEND_TIMEOUT_USEC</c> with
    /// the longest the stop takes, so a drain longer than the unit's stop timeout is not killed.
    /// </summary>
    public void Stopping(TimeSpan bound)
    {
        if (!IsEnabled)
        {
            return;
        }

        _watchdog?.Dispose();
        var microseconds = (long)bound.TotalMicroseconds;
        Send(string.Create(CultureInfo.InvariantCulture,
            $"{(_lifetimeNotifies ? "" : "STOPPING=1\n")}EXTEND_TIMEOUT_USEC={microseconds}\nSTATUS=Stopping: draining the workers (at most {bound})"));
    }

    public void Dispose() => _watchdog?.Dispose();

    /// <summary>The watchdog interval from <c>WATCHDOG_USEC</c>, when it is meant for this process (<c>WATCHDOG_PID</c>).</summary>
    internal static TimeSpan? WatchdogInterval(string? usec, string? pid, int processId)
    {
        if (!long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out var microseconds) || microseconds <= 0)
        {
            return null;
        }

        if (pid is not null && (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var owner) || owner != processId))
        {
            return null;
        }

        return TimeSpan.FromMicroseconds(microseconds);
    }

    /// <summary>CLOCK_MONOTONIC in microseconds: on Linux the stopwatch reads that clock.</summary>
    internal static long MonotonicMicroseconds()
        => (long)((Int128)Stopwatch.GetTimestamp() * 1_000_000 / Stopwatch.Frequency);

    private string Status()
    {
        var readiness = _pool.GetReadiness();
        var generation = _pool.GetWorkers().Select(w => w.Generation).DefaultIfEmpty(0).Max();
        return string.Create(CultureInfo.InvariantCulture, $"{readiness.ReadySlots} of {readiness.Slots} workers ready, generation {generation}");
    }

    /// <summary>
    /// <c>WATCHDOG=1</c> only while the pool is healthy: its control loop answers (a command is applied within the
    /// interval) and a worker serves, or the process is stopping. A wedged loop, or no worker at all, lets systemd act.
    /// </summary>
    private void OnWatchdogTick()
    {
        if (Interlocked.Exchange(ref _watchdogBusy, 1) == 1)
        {
            return;
        }

        _ = PingAsync();

        async Task PingAsync()
        {
            try
            {
                await _pool.ScaleByAsync(0).WaitAsync(_watchdogInterval!.Value / 2, _timeProvider).ConfigureAwait(false);
                var readiness = _pool.GetReadiness();
                if (readiness.ReadySlots > 0 || readiness.Stopping)
                {
                    Send("WATCHDOG=1");
                }
                else
                {
                    Log.WatchdogWithheld(_logger, "no worker is ready");
                }
            }
            catch (TimeoutException)
            {
                Log.WatchdogWithheld(_logger, "the pool's control loop did not answer");
            }
            finally
            {
                Volatile.Write(ref _watchdogBusy, 0);
            }
        }
    }

    private void Send(string message)
    {
        // After a hot upgrade the next process is the main one: a word from this one (STOPPING=1 above all) would be
        // taken as the service's.
        if (_pool.Shutdown.HandedOver)
        {
            return;
        }

        try
        {
            _notifier.Notify(new ServiceState(message));
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException or IOException)
        {
            Log.NotifyFailed(_logger, e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Diagnostics.WorkersEventIds.SystemdNotifyFailed, LogLevel.Warning,
            "Could not notify systemd.", EventName = "SystemdNotifyFailed")]
        public static partial void NotifyFailed(ILogger logger, Exception exception);

        [LoggerMessage(Diagnostics.WorkersEventIds.SystemdWatchdogWithheld, LogLevel.Warning,
            "Did not send systemd's watchdog keep-alive: {Reason}.", EventName = "SystemdWatchdogWithheld")]
        public static partial void WatchdogWithheld(ILogger logger, string reason);
    }
}
