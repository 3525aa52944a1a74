namespace WorkerHosting.Coordinator;

/// <summary>Process exit codes the coordinator sets, as gunicorn's arbiter does.</summary>
internal static class WorkersExitCodes
{
    /// <summary>Workers kept failing to start (or ended soon after starting): a crash loop (gunicorn's WORKER_BOOT_ERROR).</summary>
    public const int CrashLoop = 3;
}
