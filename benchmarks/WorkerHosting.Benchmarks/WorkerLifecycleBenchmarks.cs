using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using WorkerHosting;

namespace WorkerHosting.Benchmarks;

/// <summary>
/// A real coordinator (BenchApp with one worker, Kestrel on 127.0.0.1 port 0) in the benchmark process; each
/// operation goes through the public <see cref="IWorkerPool"/>. One operation per iteration (Monitoring strategy):
/// these are whole-operation costs (tens of milliseconds), not microbenchmarks.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 20)]
[MemoryDiagnoser]
public class WorkerLifecycleBenchmarks
{
    private WebApplication _app = null!;
    private IWorkerPool _pool = null!;

    [GlobalSetup]
    public void Setup()
    {
        _app = BenchHost.Create(["--urls", "http://127.0.0.1:0", "--Bench:Workers=1", "--Logging:LogLevel:Default=Warning"]);
        _app.StartAsync().GetAwaiter().GetResult();
        _pool = _app.Services.GetRequiredService<IWorkerPool>();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _app.StopAsync().GetAwaiter().GetResult();
        ((IAsyncDisposable)_app).DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>A new worker: load context created, the app's entry point run, its host started and taking connections.</summary>
    [Benchmark]
    public Task BootWorker() => _pool.ScaleAsync(2);

    [IterationCleanup(Target = nameof(BootWorker))]
    public void RemoveBootedWorker() => _pool.ScaleAsync(1).GetAwaiter().GetResult();

    /// <summary>An idle worker drained, its host stopped and disposed, its load context unloading.</summary>
    [Benchmark]
    public Task DrainAndStopWorker() => _pool.ScaleAsync(1);

    [IterationSetup(Target = nameof(DrainAndStopWorker))]
    public void AddWorkerToStop() => _pool.ScaleAsync(2).GetAwaiter().GetResult();

    /// <summary>A rolling reload of the one worker: boot the new one, then drain and stop the old one.</summary>
    [Benchmark]
    public Task<WorkerReloadResult> ReloadOneWorker() => _pool.ReloadAsync();
}
