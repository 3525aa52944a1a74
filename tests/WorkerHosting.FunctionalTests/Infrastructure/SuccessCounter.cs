namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>
/// Counts successful requests of a load and lets a test wait, on a signal, until a number more have succeeded.
/// </summary>
internal sealed class SuccessCounter
{
    private readonly Lock _lock = new();
    private readonly List<(long Target, TaskCompletionSource Reached)> _waiters = [];
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public void Increment()
    {
        var count = Interlocked.Increment(ref _count);
        lock (_lock)
        {
            Release(count);
        }
    }

    /// <summary>A task that completes once <paramref name="more"/> more successes have been counted (no timeout of its own).</summary>
    public Task WaitForMoreAsync(long more)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            // Every increment after this read releases the waiters under this lock, so none is missed.
            _waiters.Add((Count + more, reached));
            Release(Count);
        }

        return reached.Task;
    }

    private void Release(long count)
    {
        for (var i = _waiters.Count - 1; i >= 0; i--)
        {
            if (_waiters[i].Target <= count)
            {
                _waiters[i].Reached.TrySetResult();
                _waiters.RemoveAt(i);
            }
        }
    }
}
