namespace WorkerHosting.Tests.Workers;

/// <summary>
/// The collection of tests that force garbage collections, measure the live heap or walk process-wide registries
/// (unload verification, the release of what stopped workers left registered). They run alone, after the parallel
/// tests: other tests allocating, or creating timers and listeners, at the same time change what they measure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideStateTests
{
    public const string Name = "Process-wide state";
}
