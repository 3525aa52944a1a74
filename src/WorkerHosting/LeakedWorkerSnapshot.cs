namespace WorkerHosting;

/// <summary>
/// A worker that stopped and was unloaded, but whose load context is still alive: something outside the worker
/// references its code, and its memory does not come back.
/// </summary>
/// <param name="Slot">The slot the worker served in.</param>
/// <param name="Generation">The worker's generation in its slot.</param>
/// <param name="StoppedAt">When its unloading was verified and it was found alive.</param>
/// <param name="EstimatedBytes">
/// An estimate of the managed memory it holds: its share of the live heap's growth across the unloading that found it
/// alive, or the bytes of the assemblies it loaded if more. Compiled code and type data come on top.
/// </param>
/// <param name="HeldBy">What holds it, as far as the process can tell, and what the app can do.</param>
public sealed record LeakedWorkerSnapshot(int Slot, int Generation, DateTimeOffset StoppedAt, long EstimatedBytes, string HeldBy);
