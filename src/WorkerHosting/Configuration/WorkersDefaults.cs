namespace WorkerHosting.Configuration;

internal static class WorkersDefaults
{
    public static readonly TimeSpan GracefulTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Time the coordinator's host gets beyond <see cref="WorkersOptions.GracefulTimeout"/> to abort what is
    /// left, let Kestrel wait for aborted connections (up to 1 s), and dispose and unload the workers.
    /// </summary>
    public static readonly TimeSpan ShutdownMargin = TimeSpan.FromSeconds(5);

    public static int Count => Environment.ProcessorCount;
}
