namespace WorkerHosting.Workers;

internal sealed class WorkerContext(int id, int generation, WorkerRole role) : IWorkerContext
{
    public static readonly WorkerContext Coordinator = new(-1, 0, WorkerRole.Coordinator);
    public static readonly WorkerContext Standalone = new(0, 0, WorkerRole.Standalone);

    public int Id { get; } = id;

    public int Generation { get; } = generation;

    public WorkerRole Role { get; } = role;

    public override string ToString() => Role == WorkerRole.Worker ? $"Worker {Id} (generation {Generation})" : Role.ToString();
}
