namespace WorkerHosting;

/// <summary>
/// The outcome of a rolling reload, as <see cref="IWorkerPool.ReloadAsync"/> returns it.
/// </summary>
/// <remarks>
/// A class with init-only properties rather than a positional record, so that later versions can add members without
/// breaking callers. Two results are equal only if they are the same instance; compare their properties.
/// </remarks>
public sealed class WorkerReloadResult
{
    /// <summary>
    /// Gets whether every worker was replaced.
    /// </summary>
    public required bool Succeeded { get; init; }

    /// <summary>
    /// Gets how many workers were replaced before the reload ended.
    /// </summary>
    /// <value>The number of workers replaced. Defaults to 0.</value>
    public int Replaced { get; init; }

    /// <summary>
    /// Gets why the reload stopped early.
    /// </summary>
    /// <value>What stopped the reload, or <see langword="null"/> when it succeeded. Defaults to <see langword="null"/>.</value>
    public string? Error { get; init; }
}
