using System.Collections;
using System.Diagnostics.Tracing;

namespace WorkerHosting.Workers;

internal static partial class ProcessRegistrations
{
    private static void EventSources(Owners owners, bool release, List<string> found)
    {
        foreach (var source in EventSource.GetSources())
        {
            if (owners.Own(source.GetType()))
            {
                // Not disposed: since .NET 8 the runtime holds a registered source weakly, and disposing sources of an
                // unloading context was measured to crash the process (OpenTelemetry's five, under load: an access
                // violation a few reloads later). Only its counters, which hold it strongly once enabled, are detached.
                found.Add($"EventSource '{source.Name}' ({source.GetType().FullName})");
                if (release)
                {
                    DetachCounters(source);
                }
            }
        }
    }

    /// <summary>
    /// Takes a source's counters off the process-wide polling lists. Once a session enables a source's EventCounters
    /// (dotnet-counters, dotnet-monitor, an in-process listener), its counter group stays on the list of enabled groups
    /// until a Disable command, which a disposed source never gets: the list would keep the source, and with it the
    /// worker, alive for good (EF Core's source has such counters).
    /// </summary>
    private static void DetachCounters(EventSource source)
    {
        var groupType = typeof(EventSource).Assembly.GetType("System.Diagnostics.Tracing.CounterGroup");
        if (groupType?.GetField("s_counterGroupLock", StaticMembers)?.GetValue(null) is not { } syncRoot)
        {
            return;
        }

        lock (syncRoot)
        {
            if (groupType.GetField("s_counterGroupEnabledList", StaticMembers)?.GetValue(null) is IList groups)
            {
                for (var i = groups.Count - 1; i >= 0; i--)
                {
                    if (groups[i] is { } group && ReferenceEquals(FieldValue(group, "_eventSource"), source))
                    {
                        groups.RemoveAt(i);
                    }
                }
            }

            if (groupType.GetField("s_needsResetIncrementingPollingCounters", StaticMembers)?.GetValue(null) is IList counters)
            {
                for (var i = counters.Count - 1; i >= 0; i--)
                {
                    if (counters[i] is DiagnosticCounter counter && ReferenceEquals(counter.EventSource, source))
                    {
                        counters.RemoveAt(i);
                    }
                }
            }
        }
    }

    private static void EventListeners(Owners owners, bool release, List<string> found)
    {
        var listeners = new List<EventListener>();
        var head = typeof(EventListener).GetField("s_Listeners", StaticMembers);
        var next = typeof(EventListener).GetField("m_Next", InstanceMembers);
        var syncRoot = typeof(EventListener).GetProperty("EventListenersLock", StaticMembers)?.GetValue(null);
        if (head is null || next is null || syncRoot is null)
        {
            return;
        }

        lock (syncRoot)
        {
            for (var listener = head.GetValue(null) as EventListener; listener is not null; listener = next.GetValue(listener) as EventListener)
            {
                if (owners.Own(listener.GetType()))
                {
                    listeners.Add(listener);
                }
            }
        }

        foreach (var listener in listeners)
        {
            found.Add($"EventListener {listener.GetType().FullName}");
            if (release)
            {
                listener.Dispose();
            }
        }
    }
}
