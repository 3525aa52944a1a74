using System.Collections;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace WorkerHosting.Workers;

/// <summary>
/// Ends the handler timers of a stopped worker's <c>IHttpClientFactory</c>. The default factory does not implement
/// IDisposable: each handler it created keeps a timer (its lifetime, 2 minutes by default) that outlives the
/// container, and an expired handler waits for a cleanup timer (every 10 s) until a collection shows it unused. Until
/// then the process-wide timer queue holds the handler chain, the handler's service scope and, through them, the
/// worker's code (dotnet/runtime#113494). Measured with a resilience handler: every worker generation stayed alive for
/// the handler's lifetime and more. The worker serves nothing more when this runs, so its handlers are disposed as
/// the factory's cleanup would dispose them.
/// </summary>
internal static class HttpClientFactoryTimers
{
    private const BindingFlags InstanceFields = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;

    public static void Stop(object factory)
    {
        var type = factory.GetType();
        if (type.FullName != "Microsoft.Extensions.Http.DefaultHttpClientFactory")
        {
            return;
        }

        try
        {
            (type.GetField("_cleanupTimer", InstanceFields)?.GetValue(factory) as IDisposable)?.Dispose();
            if (type.GetField("_activeHandlers", InstanceFields)?.GetValue(factory) is IDictionary active)
            {
                foreach (var lazy in active.Values)
                {
                    if (lazy?.GetType().GetProperty("IsValueCreated")?.GetValue(lazy) is true &&
                        lazy.GetType().GetProperty("Value")?.GetValue(lazy) is { } entry)
                    {
                        (Field(entry, "_timer") as IDisposable)?.Dispose();
                        (Field(entry, "<Handler>k__BackingField") as IDisposable)?.Dispose();
                        (Field(entry, "<Scope>k__BackingField") as IServiceScope)?.Dispose();
                    }
                }
            }

            if (type.GetField("_expiredHandlers", InstanceFields)?.GetValue(factory) is IEnumerable expired)
            {
                foreach (var entry in expired)
                {
                    (Field(entry, "<InnerHandler>k__BackingField") as IDisposable)?.Dispose();
                    (Field(entry, "<Scope>k__BackingField") as IServiceScope)?.Dispose();
                }
            }
        }
        catch (Exception e) when (e is TargetInvocationException or ObjectDisposedException or InvalidOperationException)
        {
            // A handler that fails to dispose: unload verification reports a load context that stays alive.
        }
    }

    private static object? Field(object instance, string name) =>
        instance.GetType().GetField(name, InstanceFields)?.GetValue(instance);
}
