using System.Diagnostics;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// App code that hangs or ignores its token cannot hold the process: stops are bounded by GracefulTimeout plus the
/// documented margin, a worker hung at start is given up and its slot restarted, a stuck old worker does not hold the
/// next reload.
/// </summary>
public sealed class StuckWorkerTests
{
    [Fact]
    public async Task SigtermEndsWithinGracefulTimeoutPlusTheMarginWhenAHostedServiceIgnoresItsStop()
    {
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", "--Workers:GracefulTimeout=00:00:02", "--TestApp:IgnoreStop=true"]);
        await using var __ = app;

        var stopwatch = Stopwatch.StartNew();
        app.Signal(AppProcess.SigTerm);
        var exitCode = await app.WaitForExitAsync();
        stopwatch.Stop();

        Assert.Equal(0, exitCode);

        // GracefulTimeout (2 s) plus 5 s bounds the stop; the workers are given up 3 s after their graceful timeout.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(7), $"The stop took {stopwatch.Elapsed}.");
        Assert.Equal(2, app.CountLines(@"Worker [01] \(generation 1\) did not exit within [0-9:.]+ of being asked to stop; giving up on it"));
        Assert.Equal(1, app.CountLines(@"Stopped 2 workers in"));
    }

    [Fact]
    public async Task AWorkerHungAtStartIsGivenUpAndItsSlotRestarts()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal,
            ["--Workers:Count=2", "--Workers:StartupTimeout=00:00:02", "--Workers:GracefulTimeout=00:00:01", "--TestApp:HangStart=1:1"]);
        await using var _ = app;

        await app.WaitForOutputAsync(@"Worker 1 \(generation 1\) failed to start; its slot restarts\.");
        await app.WaitForOutputAsync(@"Worker 1 \(generation 2\) replaces the worker that ended\.");
        await app.WaitForOutputAsync(@"Worker 1 \(generation 1\) did not exit within");

        using var client = Http.NewConnectionPerRequest(address);
        var workers = await client.GetJsonAsync<WorkerSnapshot[]>("/workers");
        Assert.Equal([(0, 1), (1, 2)], workers.Select(w => (w.Slot, w.Generation)));
        Assert.All(workers, w => Assert.Equal(WorkerState.Ready, w.State));
        Assert.Contains("was not ready within the startup timeout (00:00:02)", app.Output, StringComparison.Ordinal);

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());
    }

    [Fact]
    public async Task AnOldWorkerThatNeverExitsDoesNotHoldTheNextReload()
    {
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal,
            ["--Workers:Count=1", "--Workers:GracefulTimeout=00:00:02", "--TestApp:IgnoreStop=true"]);
        await using var __ = app;

        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputCountAsync(@"Reloaded 1 workers in", 1);
        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputCountAsync(@"Reloaded 1 workers in", 2);
        await app.WaitForOutputAsync(@"Worker 0 \(generation 1\) did not exit within");

        // The second reload ended before the first's old worker was given up (2 s + 3 s after it was asked to stop).
        var lines = app.Output.Split('\n');
        var secondReload = lines.Select((line, index) => (line, index)).Where(l => l.line.Contains("Reloaded 1 workers in", StringComparison.Ordinal)).ElementAt(1).index;
        var givenUp = Array.FindIndex(lines, l => l.Contains("Worker 0 (generation 1) did not exit within", StringComparison.Ordinal));
        Assert.True(secondReload >= 0 && secondReload < givenUp, "The second reload waited for the stuck worker.");
    }
}
