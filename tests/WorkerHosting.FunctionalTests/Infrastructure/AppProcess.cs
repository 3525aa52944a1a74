using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>
/// A test app run as its own process, as a user runs it (<c>dotnet App.dll</c>), with its output collected line by
/// line so a test can wait for a line instead of sleeping.
/// </summary>
internal sealed partial class AppProcess : IAsyncDisposable
{
    public const int SigInt = 2;
    public const int SigTerm = 15;
    public const int SigHup = 1;
    public const int SigQuit = 3;
    public const int SigTtin = 21;
    public const int SigTtou = 22;
    public const int SigUsr2 = 12;

    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly List<string> _lines = [];
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Found)> _waiters = [];
    private readonly List<Action> _lineObservers = [];

    private readonly TaskCompletionSource _processExited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AppProcess(Process process)
    {
        _process = process;
        process.Exited += (_, _) => _processExited.TrySetResult();
    }

    /// <summary>Whether GNU env (coreutils 8.31 or later) can reset ignored signals for the app.</summary>
    private static bool ResetSignals { get; } = OperatingSystem.IsLinux() && CanResetSignals();

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_lock)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    public static AppProcess Start(string app, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string?>? environment = null)
        => StartAssembly(TestApps.AssemblyPath(app), TestApps.ContentRoot(app), args, environment);

    /// <summary>
    /// Runs an app through a launcher that execs it in the same process (such as <c>systemd-socket-activate -l ADDRESS</c>),
    /// so signals sent to the process reach the app.
    /// </summary>
    public static AppProcess StartThrough(IReadOnlyList<string> launcher, string app, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string?>? environment = null)
        => StartAssembly(TestApps.AssemblyPath(app), TestApps.ContentRoot(app), args, environment, launcher);

    /// <summary>Runs an app from a given file (for example a copy deployed to a temporary folder).</summary>
    public static AppProcess StartAssembly(string assemblyPath, string workingDirectory, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string?>? environment = null, IReadOnlyList<string>? launcher = null)
    {
        // A test run started in the background (or by a runner that ignores SIGINT) passes "ignore SIGINT and SIGQUIT"
        // on to its children, and .NET respects it. GNU env resets them, so the app sees signals as a user's app does.
        var startInfo = new ProcessStartInfo(launcher is [var first, ..] ? first : ResetSignals ? "env" : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var part in launcher?.Skip(1) ?? [])
        {
            startInfo.ArgumentList.Add(part);
        }

        if (ResetSignals)
        {
            if (launcher is not null)
            {
                startInfo.ArgumentList.Add("env");
            }

            startInfo.ArgumentList.Add("--default-signal=INT,QUIT");
            startInfo.ArgumentList.Add("dotnet");
        }
        else if (launcher is not null)
        {
            startInfo.ArgumentList.Add("dotnet");
        }

        startInfo.ArgumentList.Add(assemblyPath);
        foreach (var arg in args ?? [])
        {
            startInfo.ArgumentList.Add(arg);
        }

        // One line per log message, so tests can wait for a message; the environment decides nothing else.
        startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        startInfo.Environment["DOTNET_ENVIRONMENT"] = "Production";
        startInfo.Environment["Logging__Console__FormatterName"] = "simple";
        startInfo.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        startInfo.Environment.Remove("ASPNETCORE_URLS");
        startInfo.Environment.Remove("ASPNETCORE_HTTP_PORTS");
        startInfo.Environment.Remove("ASPNETCORE_HTTPS_PORTS");
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                startInfo.Environment.Remove(key);
            }
            else
            {
                startInfo.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var appProcess = new AppProcess(process);
        process.OutputDataReceived += (_, e) => appProcess.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => appProcess.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return appProcess;
    }

    /// <summary>Starts the app on 127.0.0.1 port 0 and waits until it serves, returning its address.</summary>
    public static Task<(AppProcess App, Uri Address)> StartListeningAsync(string app, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string?>? environment = null)
        => WaitUntilListeningAsync(Start(app, ["--urls", "http://127.0.0.1:0", .. args ?? []], environment));

    public static async Task<(AppProcess App, Uri Address)> WaitUntilListeningAsync(AppProcess process)
    {
        try
        {
            var address = await process.WaitForAddressAsync();
            await process.WaitForOutputAsync(@"\d+ of \d+ workers are ready");
            return (process, address);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for the first address the coordinator's Kestrel reports.</summary>
    public async Task<Uri> WaitForAddressAsync()
    {
        var match = await WaitForOutputAsync(@"Now listening on: (?<address>\S+)");
        return new Uri(match.Groups["address"].Value.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    public Task<Match> WaitForOutputAsync([StringSyntax(StringSyntaxAttribute.Regex)] string pattern)
    {
        var regex = new Regex(pattern);
        lock (_lock)
        {
            foreach (var line in _lines)
            {
                if (regex.Match(line) is { Success: true } match)
                {
                    return Task.FromResult(match);
                }
            }

            var found = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((regex, found));
            return WithContext(found.Task);
        }
    }

    /// <summary>Waits for the <paramref name="count"/>-th line that matches.</summary>
    public async Task WaitForOutputCountAsync([StringSyntax(StringSyntaxAttribute.Regex)] string pattern, int count)
    {
        var regex = new Regex(pattern);
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            if (CountLines(pattern) >= count)
            {
                seen.TrySetResult();
            }
        }

        lock (_lock)
        {
            _lineObservers.Add(Check);
        }

        try
        {
            Check();
            await seen.Task.DefaultTimeout();
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Waited for {count} lines like '{regex}'. The app's output:\n{Output}", e);
        }
        finally
        {
            lock (_lock)
            {
                _lineObservers.Remove(Check);
            }
        }
    }

    public int CountLines([StringSyntax(StringSyntaxAttribute.Regex)] string pattern)
    {
        var regex = new Regex(pattern);
        lock (_lock)
        {
            return _lines.Count(regex.IsMatch);
        }
    }

    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    public async Task<int> WaitForExitAsync()
    {
        try
        {
            await _process.WaitForExitAsync().DefaultTimeout();
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"The app did not exit. Its output:\n{Output}", e);
        }

        // Let the asynchronous readers deliver the last lines.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>
    /// Waits for the process itself to exit, not for the end of its output: a process it started (a hot upgrade's) shares
    /// its output and may hold it open.
    /// </summary>
    public async Task<int> WaitForProcessExitAsync()
    {
        try
        {
            await _processExited.Task.DefaultTimeout();
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"The app did not exit. Its output:\n{Output}", e);
        }

        return _process.ExitCode;
    }

    /// <summary>Sends a signal to another process the test is responsible for (one the app started).</summary>
    public static void SignalProcess(int processId, int signal)
    {
        if (Kill(processId, signal) != 0)
        {
            throw new InvalidOperationException($"kill({processId}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>
    /// Stops a process the app started (a hot upgrade's new process, which outlives the app the test started): SIGTERM,
    /// then waits until it is gone. Nothing when there is none, or it has exited.
    /// </summary>
    public static async Task StopIfRunningAsync(int? processId)
    {
        if (processId is { } pid && Directory.Exists($"/proc/{pid}"))
        {
            SignalProcess(pid, SigTerm);
            await WaitForProcessGoneAsync(pid);
        }
    }

    /// <summary>Waits until a process that is not the test's child is gone (its /proc entry disappears).</summary>
    public static async Task WaitForProcessGoneAsync(int processId)
    {
        using var timeout = new CancellationTokenSource(TaskTimeoutExtensions.DefaultTimeoutValue);
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        while (Directory.Exists($"/proc/{processId}"))
        {
            if (!await poll.WaitForNextTickAsync(timeout.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default))
            {
                throw new TimeoutException($"Process {processId} did not exit.");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private async Task<Match> WithContext(Task<Match> found)
    {
        try
        {
            return await found.DefaultTimeout();
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} The app's output:\n{Output}", e);
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        Action[] observers;
        lock (_lock)
        {
            _lines.Add(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Pattern.Match(line) is { Success: true } match)
                {
                    _waiters[i].Found.TrySetResult(match);
                    _waiters.RemoveAt(i);
                }
            }

            observers = [.. _lineObservers];
        }

        foreach (var observer in observers)
        {
            observer();
        }
    }

    private static bool CanResetSignals()
    {
        try
        {
            using var probe = Process.Start(new ProcessStartInfo("env", ["--default-signal=INT", "true"]) { RedirectStandardError = true });
            probe!.WaitForExit();
            return probe.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
