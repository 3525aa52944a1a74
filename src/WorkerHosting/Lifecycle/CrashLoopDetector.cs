namespace WorkerHosting.Lifecycle;

/// <summary>
/// Counts worker failures in a sliding window. More than the allowed number within the window is a crash loop.
/// </summary>
internal sealed class CrashLoopDetector(int maxFailures, TimeSpan window, TimeProvider timeProvider)
{
    private readonly Queue<long> _failures = new();
    private readonly Lock _lock = new();

    /// <summary>Records a failure; returns <see langword="true"/> if it makes a crash loop.</summary>
    public bool RecordFailure()
    {
        var now = timeProvider.GetTimestamp();
        lock (_lock)
        {
            _failures.Enqueue(now);
            while (_failures.Count > 0 && timeProvider.GetElapsedTime(_failures.Peek(), now) > window)
            {
                _failures.Dequeue();
            }

            return _failures.Count > maxFailures;
        }
    }
}
