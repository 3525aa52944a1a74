using System.Diagnostics;

namespace WorkerHosting.Workers;

internal static partial class ProcessRegistrations
{
    private static void ActivityListeners(Owners owners, bool release, List<string> found)
    {
        // SynchronizedList<ActivityListener>: .NET 10 keeps a copy-on-write array (earlier runtimes a locked list).
        if (typeof(ActivitySource).GetField("s_allListeners", StaticMembers)?.GetValue(null) is not { } synchronized)
        {
            return;
        }

        ActivityListener[] listeners;
        if (FieldValue(synchronized, "_volatileArray") is ActivityListener[] array)
        {
            listeners = array;
        }
        else if (FieldValue(synchronized, "_list") is List<ActivityListener> list)
        {
            lock (list)
            {
                listeners = [.. list];
            }
        }
        else
        {
            return;
        }

        foreach (var listener in listeners)
        {
            if (owners.Own(listener.ShouldListenTo) || owners.Own(listener.Sample) || owners.Own(listener.SampleUsingParentId) ||
                owners.Own(listener.ActivityStarted) || owners.Own(listener.ActivityStopped) || owners.Own(listener.ExceptionRecorder))
            {
                found.Add("ActivityListener");
                if (release)
                {
                    listener.Dispose();
                }
            }
        }
    }
}
