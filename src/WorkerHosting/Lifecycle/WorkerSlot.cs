namespace WorkerHosting.Lifecycle;

/// <summary>
/// One place in the pool, 0 to Count-1: it holds the worker that serves for it now. Changed only by the control loop.
/// </summary>
internal sealed class WorkerSlot(int index)
{
    public int Index { get; } = index;

    public WorkerSlotState State { get; set; } = WorkerSlotState.Starting;

    /// <summary>The worker that serves for this slot, or null while the slot has none (starting, or restarting).</summary>
    public WorkerEntry? Current { get; set; }

    /// <summary>Cancels the slot's restart, if one runs (the slot was scaled away).</summary>
    public CancellationTokenSource? RestartCancellation { get; set; }
}
