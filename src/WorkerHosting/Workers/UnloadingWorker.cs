namespace WorkerHosting.Workers;

/// <summary>A worker whose load context was unloaded, to be verified collected.</summary>
/// <param name="Slot">The worker's slot.</param>
/// <param name="Generation">The worker's generation.</param>
/// <param name="Context">The worker's load context, weakly.</param>
/// <param name="LoadedBytes">The bytes of the assemblies (and symbols) the worker loaded: the least it holds if it stays alive.</param>
/// <param name="KeptFor">The assembly for which the worker is deliberately not unloaded, if it is (<c>WorkerInstance.UnsafeToUnloadAssemblies</c>).</param>
internal sealed record UnloadingWorker(int Slot, int Generation, WeakReference Context, long LoadedBytes, string? KeptFor = null);
