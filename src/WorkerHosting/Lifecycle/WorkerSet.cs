namespace WorkerHosting.Lifecycle;

/// <summary>
/// The pool's state: its slots, the workers that have not ended, and each slot's last generation. Only the control loop
/// (and the operations it runs, one at a time) changes it; the lock lets other threads read consistent snapshots.
/// </summary>
internal sealed class WorkerSet
{
    private readonly Lock _lock = new();
    private readonly List<WorkerSlot> _slots = [];
    private readonly List<WorkerEntry> _workers = [];
    private readonly Dictionary<int, int> _generations = [];

    /// <summary>Gets the slots the pool keeps, by index.</summary>
    public WorkerSlot[] Slots
    {
        get
        {
            lock (_lock)
            {
                return [.. _slots];
            }
        }
    }

    /// <summary>Gets the number of slots.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _slots.Count;
            }
        }
    }

    /// <summary>Gets the workers that have not ended (starting, serving or draining).</summary>
    public WorkerEntry[] Workers
    {
        get
        {
            lock (_lock)
            {
                return [.. _workers];
            }
        }
    }

    public int WorkerCount
    {
        get
        {
            lock (_lock)
            {
                return _workers.Count;
            }
        }
    }

    public WorkerSnapshot[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _workers.Select(w => w.Snapshot()).OrderBy(w => w.Slot).ThenBy(w => w.Generation)];
        }
    }

    /// <summary>Adds slots up to <paramref name="count"/>; returns the new ones.</summary>
    public WorkerSlot[] Grow(int count)
    {
        lock (_lock)
        {
            var added = Enumerable.Range(_slots.Count, Math.Max(0, count - _slots.Count)).Select(i => new WorkerSlot(i)).ToArray();
            _slots.AddRange(added);
            return added;
        }
    }

    /// <summary>Removes the highest slots down to <paramref name="count"/>; returns them, marked removed.</summary>
    public WorkerSlot[] Shrink(int count)
    {
        lock (_lock)
        {
            var removed = new List<WorkerSlot>();
            for (var i = _slots.Count - 1; i >= count; i--)
            {
                var slot = _slots[i];
                slot.State = WorkerSlotState.Removed;
                _slots.RemoveAt(i);
                removed.Add(slot);
            }

            return [.. removed];
        }
    }

    /// <summary>The next generation of the slot (the first is 1).</summary>
    public int NextGeneration(int slot)
    {
        lock (_lock)
        {
            return _generations[slot] = _generations.GetValueOrDefault(slot) + 1;
        }
    }

    public void Add(WorkerEntry worker)
    {
        lock (_lock)
        {
            _workers.Add(worker);
        }
    }

    /// <summary>Removes a worker that ended (or was given up); false if it was not there.</summary>
    public bool Remove(WorkerEntry worker)
    {
        lock (_lock)
        {
            return _workers.Remove(worker);
        }
    }
}
