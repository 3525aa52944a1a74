namespace WorkerHosting;

/// <summary>
/// The outcome of a rolling reload.
/// </summary>
/// <param name="Succeeded">Whether every worker was replaced.</param>
/// <param name="Replaced">How many workers were replaced before the reload ended.</param>
/// <param name="Error">Why the reload stopped early, or <see langword="null"/> when it succeeded.</param>
public sealed record WorkerReloadResult(bool Succeeded, int Replaced, string? Error);
