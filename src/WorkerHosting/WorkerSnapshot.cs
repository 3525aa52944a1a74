namespace WorkerHosting;

/// <summary>
/// One worker, as <see cref="IWorkerPool.GetWorkers"/> saw it.
/// </summary>
/// <param name="Slot">The worker's slot, from 0 to the worker count minus one.</param>
/// <param name="Generation">The generation of the worker in its slot.</param>
/// <param name="State">What the worker is doing.</param>
/// <param name="StartedAt">When the worker started to boot.</param>
/// <param name="RequestsServed">How many requests the worker has served.</param>
public sealed record WorkerSnapshot(int Slot, int Generation, WorkerState State, DateTimeOffset StartedAt, long RequestsServed);
