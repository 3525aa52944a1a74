using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace WorkerHosting.Workers;

internal sealed partial class UnloadVerifier
{
    /// <summary>The leaked workers still alive, oldest first.</summary>
    public IReadOnlyList<LeakedWorkerSnapshot> GetLeakedWorkers()
    {
        lock (_lock)
        {
            return [.. _leaked.Where(l => l.Worker.Context.IsAlive).Select(l => l.Snapshot)];
        }
    }

    /// <summary>
    /// What the process can tell of what holds a worker that stays alive: what the registries WorkerHosting knows still
    /// hold of it (something registered again after the release, or that could not be released), or else the usual
    /// causes and how to find the holder.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string DescribeHolders(WeakReference context)
    {
        if (context.Target is AssemblyLoadContext loadContext)
        {
            var holders = ProcessRegistrations.Find([loadContext]);
            holders.AddRange(ProcessRegistrations.ReleaseTimersReaching([loadContext], release: false));
            if (holders.Count > 0)
            {
                return $"held by {string.Join("; ", holders)}. Dispose it when the app's host stops";
            }
        }

        return "nothing in the process-wide registries WorkerHosting knows holds it, so something else outside the worker " +
            "references its code: a thread or a timer the app started and did not stop when its host stopped, a static of " +
            "a library loaded in the default context, a GC handle or a native callback. Stop what the app starts when " +
            "IHostApplicationLifetime.ApplicationStopping fires, or find the holder with dotnet-dump gcroot (see the " +
            "Unloading section of WorkerHosting's README)";
    }

    /// <summary>Leaked workers collected since (the holder let go late: a timer that fired, a thread that ended).</summary>
    private void ReportLateUnloads()
    {
        List<Leak> collected;
        lock (_lock)
        {
            collected = [.. _leaked.Where(l => !l.Worker.Context.IsAlive)];
            _leaked.RemoveAll(l => !l.Worker.Context.IsAlive);
        }

        foreach (var leak in collected)
        {
            Log.WorkerUnloadedLate(lifetimeLogger, leak.Worker.Slot, leak.Worker.Generation, timeProvider.GetElapsedTime(leak.FoundAt));
        }
    }

    /// <summary>Logs an error each time the number of leaked workers alive goes past the limit.</summary>
    private void CheckLeakLimit()
    {
        var limit = maxLeakedWorkers();
        int count;
        long bytes;
        lock (_lock)
        {
            var alive = _leaked.Where(l => l.Worker.Context.IsAlive).ToList();
            count = alive.Count;
            bytes = alive.Sum(l => l.EstimatedBytes);
            var over = count > limit;
            if (over == _overLimit)
            {
                return;
            }

            _overLimit = over;
            if (!over)
            {
                return;
            }
        }

        Log.LeakedWorkersLimitExceeded(logger, count, limit, bytes / 1_048_576.0);
        LeakLimitExceeded?.Invoke();
    }

    /// <summary>Raised each time the number of leaked workers alive goes past the limit (Workers:UpgradeOnLeakLimit acts on it).</summary>
    public event Action? LeakLimitExceeded;

    private sealed record Leak(UnloadingWorker Worker, long EstimatedBytes, long FoundAt, LeakedWorkerSnapshot Snapshot);
}
