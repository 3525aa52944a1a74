namespace WorkerHosting.Workers;

/// <summary>A worker whose load context was unloaded, to be verified collected.</summary>
/// <param name="Slot">The worker's slot.</param>
/// <param name="Generation">The worker's generation.</param>
/// <param name="Context">The worker's load context, weakly.</param>
/// <param name="LoadedBytes">The bytes of the assemblies (and symbols) the worker loaded: the least it holds if it stays alive.</param>
/// <param name="KeptBecause">Why the worker is kept in memory rather than unloaded, if it is: it loaded an assembly that is unsafe to unload (<c>WorkerInstance.UnsafeToUnloadAssemblies</c>), or it did not exit and was given up.</param>
/// <param name="AlreadyReported">The caller has logged why it is kept (a worker given up): it is only counted.</param>
internal sealed record UnloadingWorker(int Slot, int Generation, WeakReference Context, long LoadedBytes, string? KeptBecause = null, bool AlreadyReported = false);
