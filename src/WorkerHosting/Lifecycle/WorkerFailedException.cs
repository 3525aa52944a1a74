namespace WorkerHosting.Lifecycle;

/// <summary>
/// A worker failed: it did not start (threw, or was not ready within the startup timeout), or it ended before it had
/// served for <see cref="WorkerRestartOptions.ResetAfter"/>. The restart pipeline retries these, and only these.
/// </summary>
internal sealed class WorkerFailedException : Exception
{
    public WorkerFailedException(int slot, int generation, bool started, string message, Exception? innerException)
        : base(message, innerException)
    {
        Slot = slot;
        Generation = generation;
        Started = started;
    }

    public int Slot { get; }

    public int Generation { get; }

    /// <summary>The worker had started and ended too soon (its end was logged when it happened); false if it never started.</summary>
    public bool Started { get; }
}
