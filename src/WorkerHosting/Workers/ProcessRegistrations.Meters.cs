using System.Collections;
using System.Diagnostics.Metrics;

namespace WorkerHosting.Workers;

internal static partial class ProcessRegistrations
{
    /// <summary>Meters whose observable instruments call the worker's code, or whose scope is the worker's.</summary>
    private static void Meters(Owners owners, bool release, List<string> found)
    {
        var meters = Snapshot<Meter>(typeof(Meter), "s_allMeters", MetricsLock());
        var instrumentsField = typeof(Meter).GetField("_instruments", InstanceMembers);
        foreach (var meter in meters)
        {
            var instruments = instrumentsField?.GetValue(meter) as IList;
            var held = owners.Own(meter.Scope?.GetType()) ? "its scope" : null;
            if (held is null && instruments is not null)
            {
                lock (MetricsLock() ?? instruments)
                {
                    foreach (var instrument in instruments)
                    {
                        if (instrument is Instrument { IsObservable: true } observable &&
                            owners.Own(FieldValue(observable, "_callback")))
                        {
                            held = $"the callback of its instrument '{observable.Name}'";
                            break;
                        }
                    }
                }
            }

            if (held is not null)
            {
                found.Add($"Meter '{meter.Name}' ({held})");
                if (release)
                {
                    meter.Dispose();
                }
            }
        }
    }

    private static void MeterListeners(Owners owners, bool release, List<string> found)
    {
        foreach (var listener in Snapshot<MeterListener>(typeof(MeterListener), "s_allStartedListeners", MetricsLock()))
        {
            var callbacks = typeof(MeterListener).GetFields(InstanceMembers).Where(f => typeof(Delegate).IsAssignableFrom(f.FieldType));
            if (owners.Own(listener.GetType()) || callbacks.Any(f => owners.Own(f.GetValue(listener))))
            {
                found.Add("MeterListener");
                if (release)
                {
                    listener.Dispose();
                }
            }
        }
    }

    private static object? MetricsLock() =>
        typeof(Instrument).GetProperty("SyncObject", StaticMembers)?.GetValue(null);

    private static List<T> Snapshot<T>(Type owner, string fieldName, object? syncRoot)
    {
        if (owner.GetField(fieldName, StaticMembers)?.GetValue(null) is not List<T> list)
        {
            return [];
        }

        lock (syncRoot ?? list)
        {
            return [.. list];
        }
    }
}
