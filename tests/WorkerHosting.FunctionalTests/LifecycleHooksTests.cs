using System.Text.RegularExpressions;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

public sealed partial class LifecycleHooksTests
{
    [Fact]
    public async Task TheAppsHooksRunInTheCoordinatorInTheDocumentedOrderForAStartAReloadAndAStop()
    {
        var (app, _) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=2", "--TestApp:LogHooks=true"]);
        await using var _ = app;
        await app.WaitForOutputAsync(@"Hook PoolReady ");

        app.Signal(AppProcess.SigHup);
        await app.WaitForOutputAsync(@"Hook ReloadEnded ");

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());

        var hooks = app.Output.Split('\n').Select(l => HookLine().Match(l)).Where(m => m.Success).Select(m => m.Groups["hook"].Value).ToArray();

        // Start: the workers boot at once and become ready in any order, each after its own boot; then the pool is ready.
        Assert.Equal("PoolStarting 2", hooks[0]);
        var start = hooks[1..5];
        Assert.Equal(["Booting 0/1", "Booting 1/1", "Ready 0/1", "Ready 1/1"], start.Order());
        Assert.True(Array.IndexOf(start, "Booting 0/1") < Array.IndexOf(start, "Ready 0/1"));
        Assert.True(Array.IndexOf(start, "Booting 1/1") < Array.IndexOf(start, "Ready 1/1"));
        Assert.Equal("PoolReady 2/2, 2 serving", hooks[5]);

        // Reload (SIGHUP): slot by slot, each new worker ready before the next boots; the old workers exit (draining at
        // once, in the order they end); the reload ends after them.
        Assert.Equal(["ReloadStarting 2", "Booting 0/2", "Ready 0/2", "Booting 1/2", "Ready 1/2"], hooks[6..11]);
        Assert.Equal(["Exited 0/1 Reload", "Exited 1/1 Reload"], hooks[11..13].Order());
        Assert.Equal("ReloadEnded succeeded 2", hooks[13]);

        // Stop (SIGTERM): the pool stops, every worker exits, the pool has stopped; nothing else ran a hook (the
        // observer registered in the workers' services was never called).
        Assert.Equal("PoolStopping 2/2", hooks[14]);
        Assert.Equal(["Exited 0/2 Stop", "Exited 1/2 Stop"], hooks[15..17].Order());
        Assert.Equal(["PoolStopped"], hooks[17..]);
    }

    [GeneratedRegex(@"Hook (?<hook>.+)\.$")]
    private static partial Regex HookLine();
}
