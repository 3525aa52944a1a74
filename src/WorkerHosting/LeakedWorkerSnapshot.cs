namespace WorkerHosting;

/// <summary>
/// A worker that stopped and was unloaded, but whose load context is still alive: something outside the worker
/// references its code, and its memory does not come back.
/// </summary>
/// <param name="Slot">The slot the worker served in.</param>
/// <param name="Generation">The worker's generation in its slot.</param>
/// <param name="StoppedAt">When its unloading was verified and it was found alive.</param>
/// <param name="EstimatedBytes">
/// The least memory it holds: the assemblies (and symbols) it loaded. Objects and compiled code it keeps come on top.
/// </param>
/// <param name="HeldBy">What holds it, as far as the process can tell, and what the app can do.</param>
public sealed record LeakedWorkerSnapshot(int Slot, int Generation, DateTimeOffset StoppedAt, long EstimatedBytes, string HeldBy);
