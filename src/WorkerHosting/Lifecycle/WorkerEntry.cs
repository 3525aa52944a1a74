using WorkerHosting.Workers;

namespace WorkerHosting.Lifecycle;

/// <summary>The control loop's record of one worker that has not ended: its handle, its slot and its state.</summary>
internal sealed class WorkerEntry(IWorkerHandle handle, WorkerSlot slot)
{
    private readonly TaskCompletionSource _gone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state = (int)WorkerState.Starting;

    public IWorkerHandle Handle { get; } = handle;

    public WorkerSlot Slot { get; } = slot;

    /// <summary>Written by the control loop only; read by snapshots on any thread.</summary>
    public WorkerState State
    {
        get => (WorkerState)Volatile.Read(ref _state);
        set => Volatile.Write(ref _state, (int)value);
    }

    /// <summary>The worker became ready (and served): an end it was not asked for is a failure of a serving worker.</summary>
    public bool Served { get; set; }

    /// <summary>When the worker was asked to stop (a timestamp of the loop's time provider); 0 before.</summary>
    public long StopStartedAt { get; set; }

    /// <summary>Why it was asked to stop (set with <see cref="StopStartedAt"/>); a worker that ends unasked failed.</summary>
    public WorkerExitReason StopReason { get; set; }

    /// <summary>Why the worker failed to start, if it did (reported with its exit).</summary>
    public Exception? StartFailure { get; set; }

    /// <summary>Fires when a stopped worker has had its graceful timeout and margin to exit.</summary>
    public ITimer? ExitDeadline { get; set; }

    /// <summary>Completes when the loop has dealt with the worker's end, or given up on it (it did not exit in time).</summary>
    public Task Gone => _gone.Task;

    public void MarkGone() => _gone.TrySetResult();

    public WorkerSnapshot Snapshot() => new()
    {
        Slot = Handle.Slot,
        Generation = Handle.Generation,
        State = State,
        StartedAt = Handle.StartedAt,
        RequestsServed = Handle.RequestsServed,
    };
}
