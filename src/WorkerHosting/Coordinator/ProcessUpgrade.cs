using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using WorkerHosting.Configuration;
using WorkerHosting.Listeners;

namespace WorkerHosting.Coordinator;

/// <summary>
/// The hot upgrade of the process (SIGUSR2, <see cref="IWorkerPool.UpgradeProcessAsync"/>), as gunicorn and puma do it
/// on USR2 and Envoy on a hot restart: start the next process of the same app with the listening sockets themselves
/// (the same accept queues: nothing is rebound, so no connection is refused or reset), wait until it reports its workers
/// ready, then stop this one as on SIGTERM. A next process that fails or is not ready in time is stopped, and this one
/// keeps serving.
/// </summary>
/// <remarks>
/// The next process reports ready over a Unix datagram socket this one binds for the upgrade
/// (<see cref="ReadyVariable"/>), with the same <c>READY=1</c> message sd_notify uses. Only one upgrade runs at a time.
/// </remarks>
internal sealed partial class ProcessUpgrade : IDisposable
{
    /// <summary>The path of the socket the next process reports ready on.</summary>
    public const string ReadyVariable = "WORKERHOSTING_UPGRADE_READY";

    /// <summary>What the next process gets beyond its StartupTimeout to start its host and report ready.</summary>
    internal static readonly TimeSpan ReadyMargin = TimeSpan.FromSeconds(30);

    private const int SigTerm = 15;

    /// <summary>Only one thread clears close-on-exec on the sockets and starts a process at a time.</summary>
    private static readonly Lock _spawnLock = new();

    private readonly SharedEndpoints _endpoints;
    private readonly ShutdownState _shutdown;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Func<WorkersOptions> _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly string? _parentReadyPath;
    private readonly CancellationTokenSource _stopping = new();
    private int _running;

    public ProcessUpgrade(SharedEndpoints endpoints, ShutdownState shutdown, IHostApplicationLifetime lifetime, Func<WorkersOptions> options, ILogger logger, TimeProvider timeProvider)
    {
        _endpoints = endpoints;
        _shutdown = shutdown;
        _lifetime = lifetime;
        _options = options;
        _logger = logger;
        _timeProvider = timeProvider;

        // Read once and removed, so the app's own child processes do not see it.
        _parentReadyPath = Environment.GetEnvironmentVariable(ReadyVariable);
        Environment.SetEnvironmentVariable(ReadyVariable, null);
    }

    /// <summary>Whether a previous process started this one in a hot upgrade (and waits for it to be ready).</summary>
    public bool StartedByUpgrade => _parentReadyPath is not null;

    /// <summary>Tells the previous process that this one serves: it stops, and leaves the sockets to this one.</summary>
    public void ReportReadyToPreviousProcess()
    {
        if (_parentReadyPath is null)
        {
            return;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"READY=1\nMAINPID={Environment.ProcessId}")),
                new UnixDomainSocketEndPoint(_parentReadyPath));
        }
        catch (SocketException e)
        {
            // The previous process gave up waiting (it stops this one) or is gone.
            Log.ReadyReportFailed(_logger, _parentReadyPath, e);
        }
    }

    /// <summary>
    /// This process stops (not for a hot upgrade): an upgrade still waiting for its new process stops that process too,
    /// so no process is left serving after the operator asked for a stop.
    /// </summary>
    public void CancelForStop()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose() => _stopping.Dispose();

    public async Task<ProcessUpgradeResult> UpgradeAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux())
        {
            return Refuse("a hot upgrade passes the listening sockets by descriptor, which WorkerHosting does on Linux only");
        }

        if (_shutdown.IsStopping)
        {
            return Refuse("the process is stopping");
        }

        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            return Refuse("another hot upgrade is running; wait for it to end");
        }

        try
        {
            return await RunAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // A process that handed over stays "upgrading" until it exits: no second upgrade starts from it.
            if (!_shutdown.HandedOver)
            {
                Volatile.Write(ref _running, 0);
            }
        }
    }

    private async Task<ProcessUpgradeResult> RunAsync(CancellationToken cancellationToken)
    {
        var options = _options();
        var started = _timeProvider.GetTimestamp();
        var readyPath = Path.Combine(Path.GetTempPath(), $"workerhosting-upgrade-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        using var ready = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        ready.Bind(new UnixDomainSocketEndPoint(readyPath));
        try
        {
            Process next;
            try
            {
                next = StartNext(readyPath);
            }
            catch (Exception e) when (e is Win32Exception or InvalidOperationException or IOException)
            {
                return Fail(null, $"the new process could not be started: {e.Message}");
            }

            using var _ = next;
            Log.UpgradeStarted(_logger, next.Id);

            var buffer = new byte[512];
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
            var readyReceived = ready.ReceiveAsync(buffer, SocketFlags.None, waiting.Token).AsTask();
            var exited = next.WaitForExitAsync(waiting.Token);
            var timeout = options.StartupTimeout + ReadyMargin;
            var deadline = Task.Delay(timeout, _timeProvider, waiting.Token);
            var first = await Task.WhenAny(readyReceived, exited, deadline).ConfigureAwait(false);
            await waiting.CancelAsync().ConfigureAwait(false);

            if (first == readyReceived && readyReceived.IsCompletedSuccessfully)
            {
                _shutdown.HandOver();
                Log.UpgradeReady(_logger, next.Id, _timeProvider.GetElapsedTime(started).TotalMilliseconds);
                _lifetime.StopApplication();
                return new ProcessUpgradeResult { Succeeded = true, ProcessId = next.Id };
            }

            if (first == exited && exited.IsCompletedSuccessfully)
            {
                return Fail(next.Id, string.Create(CultureInfo.InvariantCulture, $"the new process (PID {next.Id}) exited with code {next.ExitCode} before its workers were ready; its output says why"));
            }

            var why = _stopping.IsCancellationRequested
                ? "this process is stopping"
                : cancellationToken.IsCancellationRequested
                ? "the upgrade was cancelled"
                : string.Create(CultureInfo.InvariantCulture, $"the new process (PID {next.Id}) was not ready within {timeout} (Workers:StartupTimeout plus {ReadyMargin.TotalSeconds:F0} s)");
            await StopAsync(next, options).ConfigureAwait(false);
            return Fail(next.Id, why + "; it was stopped");
        }
        finally
        {
            File.Delete(readyPath);
        }
    }

    /// <summary>
    /// Starts the same app the same way (executable, arguments, environment, working directory), inheriting the
    /// listening sockets at their descriptor numbers.
    /// </summary>
    private Process StartNext(string readyPath)
    {
        var (executable, arguments) = CommandLine();
        var startInfo = new ProcessStartInfo { UseShellExecute = false, WorkingDirectory = Environment.CurrentDirectory };

        // Socket activation: the app's Kestrel reads LISTEN_FDS only when LISTEN_PID is its own PID, which is known only
        // once the process exists. A shell sets it to its own PID and execs the app, which keeps that PID.
        var activated = Environment.GetEnvironmentVariable("LISTEN_FDS") is not null &&
            Environment.GetEnvironmentVariable("LISTEN_PID") == Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (activated)
        {
            startInfo.FileName = "/bin/sh";
            startInfo.ArgumentList.Add("-c");
            startInfo.ArgumentList.Add("LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"");
            startInfo.ArgumentList.Add(executable);
        }
        else
        {
            startInfo.FileName = executable;
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var sockets = _endpoints.Handoverable;
        startInfo.Environment[InheritedSockets.Variable] = InheritedSockets.Format(
            sockets.Select(s => (s.Key, (int)s.Listener.Socket.SafeHandle.DangerousGetHandle())));
        startInfo.Environment[ReadyVariable] = readyPath;

        lock (_spawnLock)
        {
            foreach (var (_, listener) in sockets)
            {
                InheritedSockets.SetInheritable(listener.Socket, true);
            }

            try
            {
                return Process.Start(startInfo) ?? throw new InvalidOperationException($"'{executable}' did not start.");
            }
            finally
            {
                foreach (var (_, listener) in sockets)
                {
                    InheritedSockets.SetInheritable(listener.Socket, false);
                }
            }
        }
    }

    /// <summary>This process's executable and arguments, as the kernel has them (<c>dotnet app.dll ...</c> or the apphost's).</summary>
    private static (string Executable, IReadOnlyList<string> Arguments) CommandLine()
    {
        var executable = Environment.ProcessPath ?? throw new InvalidOperationException("The process's executable path is not known.");
        var cmdline = File.ReadAllText("/proc/self/cmdline");
        var argv = cmdline.Split('\0');
        if (argv.Length > 0 && argv[^1].Length == 0)
        {
            argv = argv[..^1];
        }

        return (executable, argv.Length > 1 ? argv[1..] : []);
    }

    /// <summary>Stops a new process that did not become ready: SIGTERM, its graceful timeout and margin, then SIGKILL.</summary>
    private async Task StopAsync(Process next, WorkersOptions options)
    {
        if (next.HasExited)
        {
            return;
        }

        InheritedSockets.Signal(next.Id, SigTerm);
        try
        {
            await next.WaitForExitAsync().WaitAsync(options.GracefulTimeout + WorkersDefaults.ShutdownMargin, _timeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            next.Kill(entireProcessTree: true);
        }
    }

    private ProcessUpgradeResult Refuse(string why)
    {
        Log.UpgradeRefused(_logger, why);
        return new ProcessUpgradeResult { Succeeded = false, Error = $"No hot upgrade: {why}." };
    }

    private ProcessUpgradeResult Fail(int? processId, string why)
    {
        Log.UpgradeFailed(_logger, why);
        return new ProcessUpgradeResult { Succeeded = false, ProcessId = processId, Error = $"The hot upgrade failed: {why}." };
    }

    private static partial class Log
    {
        [LoggerMessage(Diagnostics.WorkersEventIds.UpgradeStarted, LogLevel.Information,
            "Hot upgrade: started process {ProcessId} with the listening sockets; waiting for its workers to be ready.", EventName = "UpgradeStarted")]
        public static partial void UpgradeStarted(ILogger logger, int processId);

        [LoggerMessage(Diagnostics.WorkersEventIds.UpgradeReady, LogLevel.Information,
            "Hot upgrade: process {ProcessId} serves after {ElapsedMilliseconds:F0} ms; this process stops.", EventName = "UpgradeReady")]
        public static partial void UpgradeReady(ILogger logger, int processId, double elapsedMilliseconds);

        [LoggerMessage(Diagnostics.WorkersEventIds.UpgradeFailed, LogLevel.Error,
            "Hot upgrade failed: {Reason}. This process keeps serving.", EventName = "UpgradeFailed")]
        public static partial void UpgradeFailed(ILogger logger, string reason);

        [LoggerMessage(Diagnostics.WorkersEventIds.UpgradeRefused, LogLevel.Warning,
            "Hot upgrade refused: {Reason}.", EventName = "UpgradeRefused")]
        public static partial void UpgradeRefused(ILogger logger, string reason);

        [LoggerMessage(Diagnostics.WorkersEventIds.UpgradeReadyReportFailed, LogLevel.Warning,
            "Could not tell the previous process that this one is ready (at {Path}).", EventName = "UpgradeReadyReportFailed")]
        public static partial void ReadyReportFailed(ILogger logger, string path, Exception exception);
    }
}
