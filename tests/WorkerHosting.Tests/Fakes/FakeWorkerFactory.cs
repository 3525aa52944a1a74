using System.Collections.Concurrent;
using System.Threading.Channels;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Fakes;

/// <summary>
/// Creates <see cref="FakeWorker"/>s. By default each becomes ready as it starts; <see cref="OnStart"/> changes that (leave
/// it pending, fail it), for every worker or for the ones the test picks.
/// </summary>
internal sealed class FakeWorkerFactory : IWorkerFactory
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

    private readonly Channel<FakeWorker> _started = Channel.CreateUnbounded<FakeWorker>();
    private readonly ConcurrentQueue<FakeWorker> _all = new();

    /// <summary>What a worker does as it starts; by default it becomes ready.</summary>
    public Action<FakeWorker> OnStart { get; set; } = static worker => worker.BecomeReady();

    /// <summary>Makes the first worker of <paramref name="slot"/> fail to start ("Not yet."); every other becomes ready.</summary>
    public void FailFirstStartOf(int slot) => OnStart = worker =>
    {
        if (worker.Slot == slot && worker.Generation == 1)
        {
            worker.FailToStart(new InvalidOperationException("Not yet."));
        }
        else
        {
            worker.BecomeReady();
        }
    };

    /// <summary>Sees each creation, on the creating flow (for asserting what flows into it).</summary>
    public Action<FakeWorker>? OnCreate { get; set; }

    /// <summary>Every worker created so far, in order.</summary>
    public IReadOnlyList<FakeWorker> All => [.. _all];

    public IWorkerHandle Create(int slot, int generation, WorkersOptions options, Action<IWorkerHandle> onRequestLimitReached)
    {
        var worker = new FakeWorker(slot, generation, options, onRequestLimitReached, this);
        _all.Enqueue(worker);
        OnCreate?.Invoke(worker);
        return worker;
    }

    /// <summary>Waits for the next worker to start (in order).</summary>
    public async Task<FakeWorker> NextStartedAsync()
    {
        using var timeout = new CancellationTokenSource(WaitTimeout);
        try
        {
            return await _started.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"No worker started within {WaitTimeout}; {_all.Count} were created.");
        }
    }

    internal void OnStarted(FakeWorker worker)
    {
        _started.Writer.TryWrite(worker);
        OnStart(worker);
    }
}
