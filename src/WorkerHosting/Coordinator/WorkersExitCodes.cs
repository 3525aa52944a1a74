namespace WorkerHosting.Coordinator;

/// <summary>Process exit codes the coordinator sets, as gunicorn's arbiter does.</summary>
internal static class WorkersExitCodes
{
    /// <summary>Every worker has ended and none is left to serve (gunicorn's WORKER_BOOT_ERROR).</summary>
    public const int NoWorkers = 3;
}
