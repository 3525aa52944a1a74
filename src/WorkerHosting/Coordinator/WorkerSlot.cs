using WorkerHosting.Workers;

namespace WorkerHosting.Coordinator;

/// <summary>
/// One place in the pool, 0 to Count-1: it holds the worker that serves for it now. Guarded by the pool's lock.
/// </summary>
internal sealed class WorkerSlot(int index)
{
    public int Index { get; } = index;

    /// <summary>The worker that serves for this slot, or null while the slot is (re)starting.</summary>
    public WorkerInstance? Current { get; set; }

    /// <summary>The slot was scaled away: nothing restarts in it any more.</summary>
    public bool Removed { get; set; }

    /// <summary>A restart (through the restart pipeline) is under way for this slot.</summary>
    public bool Restarting { get; set; }
}
