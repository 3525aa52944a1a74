namespace WorkerHosting.Workers;

internal sealed class WorkerContext(int slot, int generation, WorkerRole role) : IWorkerContext
{
    public static readonly WorkerContext Coordinator = new(-1, 0, WorkerRole.Coordinator);
    public static readonly WorkerContext Standalone = new(0, 0, WorkerRole.Standalone);

    public int Slot { get; } = slot;

    public int Generation { get; } = generation;

    public WorkerRole Role { get; } = role;

    public override string ToString() => Role == WorkerRole.Worker ? $"Worker {Slot} (generation {Generation})" : Role.ToString();
}
