using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using WorkerHosting.Coordinator;
using WorkerHosting.Diagnostics;
using WorkerHosting.Tests.Fakes;

namespace WorkerHosting.Tests.Coordinator;

/// <summary>A <see cref="WorkerPool"/> over fake workers, a fake clock, a fake lifetime and a recording logger.</summary>
internal sealed class PoolHarness : IAsyncDisposable
{
    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public PoolHarness(Action<WorkersOptions>? configure = null)
    {
        Options = new WorkersOptions { Count = 2, GracefulTimeout = TimeSpan.FromSeconds(2), StartupTimeout = TimeSpan.FromSeconds(10) };
        Options.Restart.UseJitter = false;
        Options.Restart.Delay = TimeSpan.FromMilliseconds(500);
        Options.Restart.ResetAfter = TimeSpan.FromSeconds(30);
        configure?.Invoke(Options);
        ResolveObservers = () => Observers;
        Metrics = new WorkersMetrics(MeterFactory);
        Pool = new WorkerPool(Options, Factory, () => ResolveObservers(), Lifetime, Metrics, Logs, Time);
    }

    /// <summary>The harness's own meter factory: a <c>MetricCollector</c> given it sees only this pool's instruments.</summary>
    public IMeterFactory MeterFactory => _services.GetRequiredService<IMeterFactory>();

    public WorkersMetrics Metrics { get; }

    public FakeWorkerFactory Factory { get; } = new();

    /// <summary>The app's lifecycle observers, as the coordinator's services would resolve them (on the first event).</summary>
    public List<IWorkerLifecycleObserver> Observers { get; } = [];

    /// <summary>How the pool resolves the observers; by default, <see cref="Observers"/>.</summary>
    public Func<IEnumerable<IWorkerLifecycleObserver>> ResolveObservers { get; set; }

    public ArmingTimeProvider Time { get; } = new();

    public FakeLifetime Lifetime { get; } = new();

    public RecordingLoggerFactory Logs { get; } = new();

    public RecordingLogger Log => Logs.Logger;

    public WorkersOptions Options { get; }

    public WorkerPool Pool { get; }

    /// <summary>When a stopped worker is given up: its graceful timeout plus the margin.</summary>
    public TimeSpan ExitDeadline => Options.GracefulTimeout + WorkerHosting.Configuration.WorkersDefaults.ExitMargin;

    /// <summary>Starts the pool; returns the workers it started first (one per slot), in slot order.</summary>
    public async Task<FakeWorker[]> StartAsync()
    {
        await Pool.StartAsync(CancellationToken.None).WaitAsync(WaitTimeout);
        var first = new List<FakeWorker>();
        for (var i = 0; i < Options.Count; i++)
        {
            first.Add(await Factory.NextStartedAsync());
        }

        return [.. first.OrderBy(w => w.Slot)];
    }

    /// <summary>Waits until every background task of the loop (restarts, drains, replies) has completed, then settles.</summary>
    public async Task QuiesceAsync()
    {
        await Task.WhenAll(Pool.Loop.Background()).WaitAsync(WaitTimeout);
        await SettleAsync();
    }

    /// <summary>The workers as the pool reports them: (slot, generation, state), by slot then generation.</summary>
    public (int Slot, int Generation, WorkerState State)[] Workers => [.. Pool.GetWorkers().Select(w => (w.Slot, w.Generation, w.State))];

    /// <summary>The workers that serve (ready, not draining): (slot, generation).</summary>
    public (int Slot, int Generation)[] Serving => [.. Pool.GetWorkers().Where(w => w.State == WorkerState.Ready).Select(w => (w.Slot, w.Generation))];

    /// <summary>Waits until the control loop has applied everything posted before this call.</summary>
    public Task SettleAsync() => Pool.ScaleByAsync(0).WaitAsync(WaitTimeout);

    public async ValueTask DisposeAsync()
    {
        using var deadline = new CancellationTokenSource(WaitTimeout);
        foreach (var worker in Factory.All)
        {
            worker.ExitsWhenStopped = true;
            if (worker.StopRequested)
            {
                worker.Exit();
            }
        }

        await Pool.StopAsync(TimeSpan.Zero, deadline.Token);
        Pool.Dispose();
        await _services.DisposeAsync();
    }
}
