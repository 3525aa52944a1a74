namespace WorkerHosting.Lifecycle;

/// <summary>Where a slot is in its life.</summary>
internal enum WorkerSlotState
{
    /// <summary>Its first worker is booting.</summary>
    Starting,

    /// <summary>A worker serves for it (replacements by reload or recycle keep it serving).</summary>
    Serving,

    /// <summary>Its worker failed: a restart owns the slot, backing off, booting, or watching the new worker.</summary>
    Restarting,

    /// <summary>It was scaled away: nothing starts in it any more.</summary>
    Removed,
}
