using System.Globalization;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// The hot upgrade of the process (SIGUSR2): the next process inherits the listening sockets, serves once its workers are
/// ready, and the old one drains and exits 0; a next process that cannot start leaves the old one serving.
/// </summary>
public sealed class ProcessUpgradeTests
{
    [Fact]
    public async Task SigUsr2UnderLoad_TheNewProcessServesAndTheOldExitsZero_NoRequestFails()
    {
        using var pidFile = TempFile.Create("pid", ".pid");
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal,
            ["--Workers:Count=2", "--Workers:GracefulTimeout=00:00:10", $"--Workers:PidFile={pidFile.Path}"]);
        await using var _ = app;
        Assert.Equal($"{app.Id}\n", await File.ReadAllTextAsync(pidFile.Path));
        int? next = null;
        try
        {
            // A new connection per request, and keep-alive clients.
            var perRequest = LoadGenerator.Start(address, "/pid", clients: 4);
            var keepAlive = KeepAliveLoad.Start(address, "/pid", clients: 8);
            await perRequest.WaitForMoreSuccessesAsync(50);
            await keepAlive.WaitForMoreSuccessesAsync(50);

            app.Signal(AppProcess.SigUsr2);
            await app.WaitForOutputAsync(@"Hot upgrade: started process \d+");

            // One upgrade at a time: a second SIGUSR2 while the first runs is refused.
            app.Signal(AppProcess.SigUsr2);
            var serves = await app.WaitForOutputAsync(@"Hot upgrade: process (?<pid>\d+) serves after");
            next = int.Parse(serves.Groups["pid"].Value, CultureInfo.InvariantCulture);

            Assert.Equal(0, await app.WaitForProcessExitAsync());

            // The new process alone serves now, on both kinds of client.
            await perRequest.WaitForMoreSuccessesAsync(50);
            await keepAlive.WaitForMoreSuccessesAsync(50);
            await perRequest.DisposeAsync();
            await keepAlive.DisposeAsync();

            Assert.Empty(perRequest.Failures);
            Assert.Empty(keepAlive.Failures);
            Assert.Contains(app.Id.ToString(CultureInfo.InvariantCulture), perRequest.Bodies);
            Assert.Contains(next.Value.ToString(CultureInfo.InvariantCulture), perRequest.Bodies);
            using var client = Http.NewConnectionPerRequest(address);
            Assert.Equal(next.Value.ToString(CultureInfo.InvariantCulture), await client.GetStringAsync("/pid"));
            Assert.Equal(1, app.CountLines(@"Hot upgrade refused: another hot upgrade is running"));

            // The PID file names the new process; the old one left it alone.
            Assert.Equal($"{next}\n", await File.ReadAllTextAsync(pidFile.Path));
        }
        finally
        {
            await AppProcess.StopIfRunningAsync(next);
        }
    }

    [Fact]
    public async Task PastTheLeakLimit_UpgradeOnLeakLimitReplacesTheProcess()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal,
            ["--Workers:Count=1", "--Workers:MaxLeakedWorkers=0", "--Workers:UpgradeOnLeakLimit=true", "--TestApp:LeakOnStart=true"]);
        await using var _ = app;
        int? next = null;
        try
        {
            // The reload's old worker cannot unload (its ProcessExit handler holds it): the first leak is past the limit.
            app.Signal(AppProcess.SigHup);
            await app.WaitForOutputAsync(@"replacing the process by a hot upgrade \(Workers:UpgradeOnLeakLimit\)");
            var serves = await app.WaitForOutputAsync(@"Hot upgrade: process (?<pid>\d+) serves after");
            next = int.Parse(serves.Groups["pid"].Value, CultureInfo.InvariantCulture);

            Assert.Equal(0, await app.WaitForProcessExitAsync());
            using var client = Http.NewConnectionPerRequest(address);
            Assert.Equal(next.Value.ToString(CultureInfo.InvariantCulture), await client.GetStringAsync("/pid"));
        }
        finally
        {
            await AppProcess.StopIfRunningAsync(next);
        }
    }

    [Fact]
    public async Task ASigtermDuringAnUpgrade_StopsTheNewProcessToo()
    {
        using var marker = TempFile.Create("delay-start");
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal,
            ["--Workers:Count=1", $"--TestApp:DelayStartIfExists={marker.Path}", "--TestApp:DelayStartMs=60000"]);
        await using var __ = app;

        // The new process's worker takes a minute to start: the stop comes first.
        await File.WriteAllTextAsync(marker.Path, "");
        app.Signal(AppProcess.SigUsr2);
        var started = await app.WaitForOutputAsync(@"Hot upgrade: started process (?<pid>\d+)");
        var next = int.Parse(started.Groups["pid"].Value, CultureInfo.InvariantCulture);
        try
        {
            app.Signal(AppProcess.SigTerm);
            Assert.Equal(0, await app.WaitForProcessExitAsync());

            // Nothing is left serving after the operator asked for a stop.
            await AppProcess.WaitForProcessGoneAsync(next);
        }
        finally
        {
            await AppProcess.StopIfRunningAsync(next);
        }
    }

    [Fact]
    public async Task AnUpgradeWhoseNewProcessCannotStart_LeavesTheOldProcessServing()
    {
        using var marker = TempFile.Create("fail-start");
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", $"--TestApp:FailStartIfExists={marker.Path}"]);
        await using var _ = app;

        var load = LoadGenerator.Start(address, "/pid", clients: 4);
        await load.WaitForMoreSuccessesAsync(50);

        // The next process's workers cannot start: it exits, and this one keeps serving.
        await File.WriteAllTextAsync(marker.Path, "");
        app.Signal(AppProcess.SigUsr2);
        await app.WaitForOutputAsync(@"Hot upgrade failed: the new process \(PID \d+\) exited with code \d+ before its workers were ready");

        await load.WaitForMoreSuccessesAsync(50);
        await load.DisposeAsync();
        Assert.Empty(load.Failures);
        Assert.Equal([app.Id.ToString(CultureInfo.InvariantCulture)], load.Bodies);

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());
    }
}
