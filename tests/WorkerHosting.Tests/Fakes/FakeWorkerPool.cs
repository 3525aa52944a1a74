namespace WorkerHosting.Tests.Fakes;

/// <summary>A pool that does nothing: for runtimes built outside a coordinator.</summary>
internal sealed class FakeWorkerPool : IWorkerPool
{
    public int ReloadCalls { get; private set; }

    public Task<WorkerReloadResult> ReloadAsync(CancellationToken cancellationToken = default)
    {
        ReloadCalls++;
        return Task.FromResult(new WorkerReloadResult { Succeeded = true });
    }

    public Task ScaleAsync(int count, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public IReadOnlyList<WorkerSnapshot> GetWorkers() => [];

    public IReadOnlyList<LeakedWorkerSnapshot> GetLeakedWorkers() => [];
}
