using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace WorkerHosting.Workers;

internal sealed partial class UnloadVerifier
{
    /// <summary>
    /// Releases what each worker left registered process-wide (<see cref="ProcessRegistrations"/>). Not inlined: the
    /// load contexts it resolves from their weak references must not stay on the caller's frame during the collections.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReleaseRegistrations(List<Request> batch)
    {
        foreach (var (slot, generation, context, _, _, _) in batch.SelectMany(r => r.Contexts))
        {
            if (context.Target is AssemblyLoadContext loadContext)
            {
                var released = ProcessRegistrations.Release([loadContext]);
                if (released.Count > 0)
                {
                    Log.RegistrationsReleased(logger, slot, generation, released.Count, string.Join("; ", released));
                }
            }
        }
    }

    /// <summary>
    /// Releases, for each worker still alive, the first timer whose state reaches it; returns whether any was found
    /// (if none was, searching again after the next collection would find none either). Not inlined, as above.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ReleaseTimersReaching(List<Request> batch)
    {
        var any = false;
        foreach (var (slot, generation, context, _, _, _) in batch.SelectMany(r => r.Contexts))
        {
            if (context.Target is AssemblyLoadContext loadContext)
            {
                var released = ProcessRegistrations.ReleaseTimersReaching([loadContext], release: true);
                if (released.Count > 0)
                {
                    any = true;
                    Log.RegistrationsReleased(logger, slot, generation, released.Count, string.Join("; ", released));
                }
            }
        }

        return any;
    }
}
