using System.Diagnostics;
using System.Globalization;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// sd_notify from the coordinator, read from a fake notify socket: the messages systemd's Type=notify-reload needs, in
/// order, through a start, a reload, a failed reload and a stop; the watchdog while the pool is healthy.
/// </summary>
public sealed class SystemdNotifyTests
{
    [Fact]
    public async Task StartReloadFailedReloadAndStop_SendTheMessagesSystemdNeedsInOrder()
    {
        using var notify = new FakeNotifySocket();
        using var marker = TempFile.Create("fail-start");
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal,
            ["--Workers:Count=2", "--Workers:GracefulTimeout=00:00:04", $"--TestApp:FailStartIfExists={marker.Path}"],
            new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notify.Path });
        await using var __ = app;

        await notify.WaitForAsync("READY=1");
        Assert.Contains("STATUS=2 of 2 workers ready, generation 1", notify.Messages[0], StringComparison.Ordinal);

        var beforeReload = MonotonicMicroseconds();
        app.Signal(AppProcess.SigHup);
        await notify.WaitForAsync("READY=1", count: 2);
        var afterReload = MonotonicMicroseconds();

        // The reload's RELOADING=1 carries the monotonic clock of when it began (systemd compares it with its SIGHUP).
        var reloading = notify.Messages[1].Split('\n');
        Assert.Equal("RELOADING=1", reloading[0]);
        Assert.StartsWith("MONOTONIC_USEC=", reloading[1], StringComparison.Ordinal);
        var monotonic = long.Parse(reloading[1]["MONOTONIC_USEC=".Length..], CultureInfo.InvariantCulture);
        Assert.InRange(monotonic, beforeReload, afterReload);
        Assert.Contains("reloaded 2 workers", notify.Messages[2], StringComparison.Ordinal);
        Assert.Contains("STATUS=2 of 2 workers ready, generation 2", notify.Messages[2], StringComparison.Ordinal);

        // A reload whose new workers cannot start ends too: READY=1 again, and the status says so.
        await File.WriteAllTextAsync(marker.Path, "");
        app.Signal(AppProcess.SigHup);
        await notify.WaitForAsync("READY=1", count: 3);
        Assert.Contains("reload failed", notify.Messages[4], StringComparison.Ordinal);

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());

        Assert.Equal(["READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1", "STOPPING=1"], notify.Kinds);

        // The stop may take GracefulTimeout (4 s) plus 5 s: systemd is told to wait that long.
        Assert.Contains("EXTEND_TIMEOUT_USEC=9000000", notify.Messages[5].Split('\n'));
    }

    [Fact]
    public async Task Watchdog_IsFedWhileWorkersServe()
    {
        using var notify = new FakeNotifySocket();
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal,
            ["--Workers:Count=2"],
            new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notify.Path, ["WATCHDOG_USEC"] = "400000" });
        await using var __ = app;

        // Every 200 ms (half of WATCHDOG_USEC) after READY=1.
        await notify.WaitForAsync("WATCHDOG=1", count: 3);
        Assert.Equal("READY=1", notify.Kinds[0]);

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());
    }

    [Fact]
    public async Task AHotUpgrade_MakesTheNewProcessTheMainOneAndTheOldSaysNothingMore()
    {
        using var notify = new FakeNotifySocket();
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=1"],
            new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notify.Path });
        await using var __ = app;
        int? next = null;
        try
        {
            await notify.WaitForAsync("READY=1");
            app.Signal(AppProcess.SigUsr2);
            var serves = await app.WaitForOutputAsync(@"Hot upgrade: process (?<pid>\d+) serves after");
            next = int.Parse(serves.Groups["pid"].Value, CultureInfo.InvariantCulture);
            Assert.Equal(0, await app.WaitForProcessExitAsync());

            // The new process took over as the main process; the old one sent no STOPPING=1 (systemd would stop the service).
            Assert.Equal(["READY=1", $"MAINPID={next}"], notify.Kinds);
            Assert.StartsWith($"MAINPID={next}\nREADY=1\nSTATUS=1 of 1 workers ready", notify.Messages[1], StringComparison.Ordinal);
        }
        finally
        {
            await AppProcess.StopIfRunningAsync(next);
        }
    }

    private static long MonotonicMicroseconds() => (long)((Int128)Stopwatch.GetTimestamp() * 1_000_000 / Stopwatch.Frequency);
}
