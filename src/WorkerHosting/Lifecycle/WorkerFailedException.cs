namespace WorkerHosting.Lifecycle;

/// <summary>
/// A worker failed: it did not start (threw, or was not ready within the startup timeout), or it ended before it had
/// served for <see cref="WorkerRestartOptions.ResetAfter"/>. The restart pipeline retries these, and only these.
/// </summary>
internal sealed class WorkerFailedException : Exception
{
    public WorkerFailedException(int slot, int generation, string message, Exception? innerException)
        : base(message, innerException)
    {
        Slot = slot;
        Generation = generation;
    }

    public int Slot { get; }

    public int Generation { get; }
}
