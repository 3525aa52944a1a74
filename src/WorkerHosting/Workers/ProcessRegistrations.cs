using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;
using System.Reflection;
using System.Runtime.Loader;

namespace WorkerHosting.Workers;

/// <summary>
/// Finds, and releases, what unloaded workers left registered in the process-wide registries of the shared
/// framework: the registrations that keep a worker's load context alive after its host was disposed, because a
/// static of the default context references them for the life of the process. Each was found with dotnet-dump
/// gcroot on a real app (docs/architecture.md has the evidence):
/// <list type="bullet">
/// <item><see cref="EventSource"/>s defined in the worker's assemblies (OpenTelemetry's, EF Core's): the runtime's
/// EventPipe provider holds each through a strong GC handle until the source is disposed, which a static source
/// never is;</item>
/// <item><see cref="Meter"/>s whose observable instruments call the worker's code (EF Core's static meter): the
/// list of all meters holds every meter that is not disposed;</item>
/// <item>listeners the worker registered and did not dispose: <see cref="MeterListener"/>s,
/// <see cref="ActivityListener"/>s, <see cref="EventListener"/>s, subscriptions to <see cref="DiagnosticListener"/>s
/// and to <see cref="DiagnosticListener.AllListeners"/>;</item>
/// <item>timers whose callback is the worker's code, and handlers of the process's static events (AppDomain,
/// AppContext, the default load context, Console.CancelKeyPress) that are the worker's code.</item>
/// </list>
/// An entry belongs to a worker when the object's type, or a delegate's method or target, is defined in (or
/// instantiated over a type of) the worker's load context. A worker whose host has stopped never runs again, so
/// disposing what it left is what the app would have done at a clean shutdown. Everything is reached by name
/// through reflection: where a runtime lacks a field, that registry is skipped, and unload verification reports a
/// load context that stays alive.
/// </summary>
internal static partial class ProcessRegistrations
{
    private const BindingFlags StaticMembers = BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public;
    private const BindingFlags InstanceMembers = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;

    /// <summary>Disposes or removes every registration that belongs to one of <paramref name="contexts"/>.</summary>
    /// <returns>What was released, one description per registration.</returns>
    public static List<string> Release(IReadOnlyCollection<AssemblyLoadContext> contexts) => Walk(new Owners(contexts), release: true);

    /// <summary>Describes every registration that still references one of <paramref name="contexts"/>.</summary>
    public static List<string> Find(IReadOnlyCollection<AssemblyLoadContext> contexts) => Walk(new Owners(contexts), release: false);

    private static List<string> Walk(Owners owners, bool release)
    {
        var found = new List<string>();
        if (owners.IsEmpty)
        {
            return found;
        }

        void Visit(Action<Owners, bool, List<string>> registry)
        {
            try
            {
                registry(owners, release, found);
            }
            catch (Exception e) when (e is TargetInvocationException or InvalidOperationException or ObjectDisposedException or MemberAccessException)
            {
                // A registry that changed shape, or an entry that failed to dispose: unload verification reports the rest.
            }
        }

        Visit(ExitHandlers);
        Visit(EventSources);
        Visit(EventListeners);
        Visit(Meters);
        Visit(MeterListeners);
        Visit(ActivityListeners);
        Visit(DiagnosticSubscriptions);
        Visit(AllListenersSubscriptions);
        Visit(Timers);
        Visit(StaticEvents);
        return found;
    }

    /// <summary>The instance fields of a type and its bases that can hold an object.</summary>
    private static FieldInfo[] ReferenceFields(Type type)
    {
        var fields = new List<FieldInfo>();
        for (var declaring = type; declaring is not null; declaring = declaring.BaseType)
        {
            fields.AddRange(declaring.GetFields(InstanceMembers | BindingFlags.DeclaredOnly)
                .Where(f => !f.FieldType.IsPrimitive && !f.FieldType.IsEnum && f.FieldType != typeof(string) && !f.FieldType.IsPointer));
        }

        return [.. fields];
    }

    private static string Describe(Delegate? handler) =>
        handler is null ? "nothing" : $"{handler.Method.DeclaringType?.FullName}.{handler.Method.Name}";

    private static object? FieldValue(object instance, string name)
    {
        for (var type = instance.GetType(); type is not null; type = type.BaseType)
        {
            if (type.GetField(name, InstanceMembers | BindingFlags.DeclaredOnly) is { } field)
            {
                return field.GetValue(instance);
            }
        }

        return null;
    }

    /// <summary>Tells whether a type, object or delegate belongs to one of the given load contexts.</summary>
    private sealed class Owners(IReadOnlyCollection<AssemblyLoadContext> contexts)
    {
        public bool IsEmpty => contexts.Count == 0;

        public bool Own(object? value) => value switch
        {
            null => false,
            Type type => Own(type),
            Delegate handler => Own(handler),
            _ => Own(value.GetType()),
        };

        public bool Own(Delegate? handler)
        {
            if (handler is null)
            {
                return false;
            }

            foreach (var entry in handler.GetInvocationList())
            {
                if (Own(entry.Method.DeclaringType) || Own(entry.Target?.GetType()))
                {
                    return true;
                }
            }

            return false;
        }

        public bool Own(Type? type)
        {
            if (type is not { IsCollectible: true })
            {
                return false;
            }

            if (type.HasElementType)
            {
                return Own(type.GetElementType());
            }

            return contexts.Contains(AssemblyLoadContext.GetLoadContext(type.Assembly)!) ||
                (type.IsConstructedGenericType && type.GenericTypeArguments.Any(Own));
        }
    }
}
