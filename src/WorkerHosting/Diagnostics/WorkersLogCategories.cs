namespace WorkerHosting.Diagnostics;

internal static class WorkersLogCategories
{
    /// <summary>
    /// Start, stop, reload and scale milestones, as <c>Microsoft.Hosting.Lifetime</c> is for the host.
    /// </summary>
    public const string Lifetime = "WorkerHosting.Lifetime";
}
