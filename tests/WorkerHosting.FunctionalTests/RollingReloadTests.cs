using System.Net.Http.Json;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

public sealed class RollingReloadTests
{
    [Fact]
    public async Task TwoReloadsInARowUnderLoadFailNoRequest()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2"]);
        await using var _ = app;

        await using (var load = LoadGenerator.Start(address))
        {
            await load.WaitForMoreSuccessesAsync(200);

            app.Signal(AppProcess.SigHup);
            await app.WaitForOutputCountAsync(@"Reloaded 2 workers in", 1);
            await load.WaitForMoreSuccessesAsync(200);

            app.Signal(AppProcess.SigHup);
            await app.WaitForOutputCountAsync(@"Reloaded 2 workers in", 2);
            await load.WaitForMoreSuccessesAsync(200);

            Assert.Empty(load.Failures);

            // Every generation served: 1 before the reloads, 2 between them, 3 after.
            foreach (var generation in new[] { 1, 2, 3 })
            {
                Assert.Contains(load.Bodies, body => body.Contains($"\"generation\":{generation}", StringComparison.Ordinal));
            }
        }

        // A reload ends when its new workers serve; the old ones finish draining after it.
        await app.WaitForOutputCountAsync(@"Worker [01] \(generation [12]\) stopped in", 4);
        using var client = Http.NewConnectionPerRequest(address);
        var workers = await client.GetJsonAsync<WorkerSnapshot[]>("/workers");
        Assert.Equal([(0, 3), (1, 3)], workers.Select(w => (w.Slot, w.Generation)));
        Assert.All(workers, w => Assert.Equal(WorkerState.Ready, w.State));

        // The replaced workers were drained and unloaded (verified in the background after each drain).
        await app.WaitForOutputCountAsync(@"Worker [01] \(generation [12]\) was (unloaded\.|unloaded but its load context is still alive)", 4);
        Assert.Equal(4, app.CountLines(@"Worker [01] \(generation [12]\) was unloaded\."));
    }

    [Fact]
    public async Task ANewBuildCopiedOverTheAppIsWhatReloadedWorkersRun()
    {
        using var deployment = Deployment.Of("ReloadApp");
        await using var app = AppProcess.StartAssembly(deployment.AssemblyPath, deployment.Directory, ["--urls", "http://127.0.0.1:0"]);
        var (_, address) = await AppProcess.WaitUntilListeningAsync(app);
        using var client = Http.NewConnectionPerRequest(address);
        Assert.StartsWith("build 1 ", await client.GetStringAsync("/"), StringComparison.Ordinal);

        // Overwrite the running app's assembly in place, as a build or a deploy does: the running workers are unaffected.
        deployment.Overwrite("ReloadAppV2");
        Assert.StartsWith("build 1 ", await client.GetStringAsync("/"), StringComparison.Ordinal);

        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputAsync("Reloaded 2 workers in");

        var bodies = new HashSet<string>();
        for (var i = 0; i < 6; i++)
        {
            bodies.Add(await client.GetStringAsync("/"));
        }

        Assert.Equal(["build 2 worker 0 generation 2", "build 2 worker 1 generation 2"], bodies.Order());
    }

    [Fact]
    public async Task WatchReloadsWhenTheAppsFilesChange()
    {
        using var deployment = Deployment.Of("ReloadApp");
        await using var app = AppProcess.StartAssembly(deployment.AssemblyPath, deployment.Directory, ["--urls", "http://127.0.0.1:0", "--Workers:Watch=true"]);
        var (_, address) = await AppProcess.WaitUntilListeningAsync(app);

        deployment.Overwrite("ReloadAppV2");
        await app.WaitForOutputAsync("The app's files in .* changed; reloading the workers");
        await app.WaitForOutputAsync("Reloaded 2 workers in");

        using var client = Http.NewConnectionPerRequest(address);
        Assert.StartsWith("build 2 ", await client.GetStringAsync("/"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReloadWhoseNewWorkerFailsStopsAndTheOldWorkersKeepServing()
    {
        using var marker = TempFile.Create("fail");
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", $"--TestApp:FailStartIfExists={marker.Path}"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        await File.WriteAllTextAsync(marker.Path, "fail");
        using var response = await client.PostAsync("/reload?wait=true", null);
        var result = await response.Content.ReadFromJsonAsync<WorkerReloadResult>();

        Assert.NotNull(result);
        Assert.False(result.Succeeded);
        Assert.Equal(0, result.Replaced);
        Assert.Contains($"TestApp refuses to start: '{marker.Path}' exists.", result.Error, StringComparison.Ordinal);
        Assert.Equal(1, app.CountLines(@"The reload stopped after replacing 0 workers, and the other workers keep serving"));

        var workers = await client.GetJsonAsync<WorkerSnapshot[]>("/workers");
        Assert.Equal([(0, 1), (1, 1)], workers.Select(w => (w.Slot, w.Generation)));
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(1, (await client.GetJsonAsync<WorkerInfo>("/")).Generation);
        }
    }

    [Fact]
    public async Task SigtermDuringAReloadDrainsEverythingAndExitsZero()
    {
        using var marker = TempFile.Create("slow");
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", $"--TestApp:DelayStartIfExists={marker.Path}", "--TestApp:DelayStartMs=60000"]);
        await using var __ = app;

        // The reload's first new worker takes a minute to start; stop the process while it waits for it.
        await File.WriteAllTextAsync(marker.Path, "slow");
        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputAsync(@"Worker 0 \(generation 2\) is booting");
        app.Signal(AppProcess.SigTerm);

        Assert.Equal(0, await app.WaitForExitAsync());
        Assert.Equal(1, app.CountLines("Stopped 3 workers in"));
        Assert.Equal(1, app.CountLines("The reload stopped after replacing 0 workers"));
    }

    [Fact]
    public async Task SighupsDuringAReloadDoNotStartOverlappingReloads()
    {
        using var marker = TempFile.Create("slow");
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", $"--TestApp:DelayStartIfExists={marker.Path}", "--TestApp:DelayStartMs=1000"]);
        await using var __ = app;

        // New workers take a second to start, so the first reload is still running when the next signals arrive.
        await File.WriteAllTextAsync(marker.Path, "slow");
        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputAsync(@"Worker 0 \(generation 2\) is booting");
        for (var received = 2; received <= 4; received++)
        {
            app.Signal(AppProcess.SigHup);
            await app.WaitForOutputCountAsync("Received SIGHUP", received);
        }

        // One reload ran; the three signals during it share the one queued after it.
        await app.WaitForOutputCountAsync("Reloaded 2 workers in", 2);
        var reloads = app.Output.Split('\n')
            .Where(l => l.Contains("Reloading 2 workers", StringComparison.Ordinal) || l.Contains("Reloaded 2 workers", StringComparison.Ordinal))
            .Select(l => l.Contains("Reloading", StringComparison.Ordinal) ? "start" : "end")
            .ToArray();
        Assert.Equal(["start", "end", "start", "end"], reloads);
        Assert.Equal(4, app.CountLines("Received SIGHUP"));
    }
}
