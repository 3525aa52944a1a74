using System.Collections;
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
internal static class ProcessRegistrations
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

    /// <summary>
    /// Disposes a listener that only the stopped worker used (the web host's own), and unlinks its subscriptions from
    /// each other, so that a subscriber's node no longer links to the other subscriptions made on it.
    /// </summary>
    public static void DisposeListener(DiagnosticListener listener)
    {
        var nodes = new List<object>();
        for (var node = FieldValue(listener, "_subscriptions"); node is not null; node = FieldValue(node, "Next"))
        {
            nodes.Add(node);
        }

        listener.Dispose();
        foreach (var node in nodes)
        {
            node.GetType().GetField("Next", InstanceMembers)?.SetValue(node, null);
        }
    }

    /// <summary>
    /// The worker's subscriptions to any <see cref="DiagnosticListener"/> of the process. A listener keeps its
    /// subscriptions in an immutable linked list: removing one copies the nodes before it, while the original nodes,
    /// which their subscribers keep (to dispose them later), still link to the removed one and everything after it.
    /// Measured: a live worker's OpenTelemetry subscriber kept, through such stale links, subscriptions that an unloaded
    /// worker's OpenTelemetry had disposed, and with them the unloaded worker's load context. So the nodes are looked
    /// for in every listener's list and among what every <see cref="DiagnosticListener.AllListeners"/> subscriber
    /// keeps, with their links; the worker's are pointed at no-ops (whatever still links to them keeps nothing of the
    /// worker), and those still subscribed are removed.
    /// </summary>
    private static void DiagnosticSubscriptions(Owners owners, bool release, List<string> found)
    {
        var subscriptionType = typeof(DiagnosticListener).GetNestedType("DiagnosticSubscription", BindingFlags.NonPublic);
        if (subscriptionType is null)
        {
            return;
        }

        var subscribed = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var listener in AllDiagnosticListeners())
        {
            for (var node = FieldValue(listener, "_subscriptions"); node is not null; node = FieldValue(node, "Next"))
            {
                subscribed.Add(node);
            }
        }

        var nodes = new HashSet<object>(subscribed, ReferenceEqualityComparer.Instance);
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);

        // Not cached across calls: a static cache of types would keep the workers' types alive.
        var fields = new Dictionary<Type, FieldInfo[]>();
        foreach (var subscriber in AllListenersSubscribers())
        {
            FindNodes(subscriber, depth: 4);
        }

        var delegateFields = subscriptionType.GetFields(InstanceMembers).Where(f => f.Name is not ("Owner" or "Next")).ToArray();
        foreach (var node in nodes)
        {
            var owned = delegateFields.Any(f => owners.Own(f.GetValue(node)));
            if (!owned)
            {
                continue;
            }

            var stale = !subscribed.Contains(node);
            found.Add($"a {(stale ? "removed subscription still linked from another subscriber's" : "subscription")} to DiagnosticListener '{(FieldValue(node, "Owner") as DiagnosticListener)?.Name}'");
            if (release)
            {
                Neutralize(node);
                if (!stale)
                {
                    ((IDisposable)node).Dispose();
                }
            }
        }

        // Subscribers keep their nodes in fields and collections of their own types (a worker's, or the default
        // context's for a library the coordinator loaded); the shared framework's objects are not searched.
        void FindNodes(object value, int depth)
        {
            if (visited.Count > 10_000 || !visited.Add(value))
            {
                return;
            }

            if (value.GetType() == subscriptionType)
            {
                for (var node = value; node is not null && nodes.Add(node); node = FieldValue(node, "Next"))
                {
                }

                return;
            }

            if (depth == 0)
            {
                return;
            }

            if (value is ICollection collection)
            {
                foreach (var item in collection)
                {
                    if (item is not null && !item.GetType().IsValueType)
                    {
                        FindNodes(item, depth - 1);
                    }
                }
            }
            else if (!SharedFramework.Contains(value.GetType().Assembly))
            {
                if (!fields.TryGetValue(value.GetType(), out var declared))
                {
                    declared = ReferenceFields(value.GetType());
                    fields[value.GetType()] = declared;
                }

                foreach (var field in declared)
                {
                    if (field.GetValue(value) is { } child)
                    {
                        FindNodes(child, depth - 1);
                    }
                }
            }
        }
    }

    private static List<DiagnosticListener> AllDiagnosticListeners()
    {
        var head = typeof(DiagnosticListener).GetField("s_allListeners", StaticMembers);
        var syncRoot = typeof(DiagnosticListener).GetField("s_allListenersLock", StaticMembers)?.GetValue(null);
        var listeners = new List<DiagnosticListener>();
        if (head is null || syncRoot is null)
        {
            return listeners;
        }

        lock (syncRoot)
        {
            for (var listener = head.GetValue(null) as DiagnosticListener; listener is not null; listener = FieldValue(listener, "_next") as DiagnosticListener)
            {
                listeners.Add(listener);
            }
        }

        return listeners;
    }

    private static List<object> AllListenersSubscribers()
    {
        var subscribers = new List<object>();
        var observable = typeof(DiagnosticListener).GetField("s_allListenerObservable", StaticMembers)?.GetValue(null);
        for (var subscription = observable is null ? null : FieldValue(observable, "_subscriptions"); subscription is not null; subscription = FieldValue(subscription, "Next"))
        {
            if (FieldValue(subscription, "Subscriber") is { } subscriber)
            {
                subscribers.Add(subscriber);
            }
        }

        return subscribers;
    }

    /// <summary>The worker's observers of <see cref="DiagnosticListener.AllListeners"/> (told of every new listener).</summary>
    private static void AllListenersSubscriptions(Owners owners, bool release, List<string> found)
    {
        var observable = typeof(DiagnosticListener).GetField("s_allListenerObservable", StaticMembers)?.GetValue(null);
        if (observable is null)
        {
            return;
        }

        for (var subscription = FieldValue(observable, "_subscriptions"); subscription is not null; subscription = FieldValue(subscription, "Next"))
        {
            if (owners.Own(FieldValue(subscription, "Subscriber")))
            {
                found.Add($"an observer of DiagnosticListener.AllListeners ({FieldValue(subscription, "Subscriber")!.GetType().FullName})");
                if (release)
                {
                    Neutralize(subscription);
                    ((IDisposable)subscription).Dispose();
                }
            }
        }
    }

    /// <summary>Points a subscription's observer and delegates at no-ops (see <see cref="DiagnosticSubscriptions"/>).</summary>
    private static void Neutralize(object subscription)
    {
        foreach (var field in subscription.GetType().GetFields(InstanceMembers))
        {
            if (field.Name is not ("Owner" or "_owner" or "Next") && field.GetValue(subscription) is { } value)
            {
                field.SetValue(subscription, value switch
                {
                    IObserver<KeyValuePair<string, object?>> => NoObserver.Instance,
                    IObserver<DiagnosticListener> => NoObserver.Instance,
                    Predicate<string> => NoObserver.Disabled1,
                    Func<string, object?, object?, bool> => NoObserver.Disabled3,
                    _ => null,
                });
            }
        }
    }

    /// <summary>
    /// Timers (System.Threading.Timer and everything built on it) whose callback or state is the worker's, or whose
    /// state is a task (Task.Delay) that the worker's code awaits: an async loop of the worker that never ended (a
    /// refresher, a BackgroundService that ignores its token) waits on such a timer for ever, and the process-wide timer
    /// queue holds it. The loop's code is unloaded, so its delay never needs to end.
    /// </summary>
    private static void Timers(Owners owners, bool release, List<string> found)
    {
        var timers = AllTimers().Where(timer =>
            owners.Own(FieldValue(timer, "_timerCallback")) || owners.Own(FieldValue(timer, "_state")) ||
            owners.Own(Continuation(FieldValue(timer, "_state") as Task))).ToList();

        foreach (var timer in timers)
        {
            found.Add(FieldValue(timer, "_state") is Task task && Continuation(task) is { } continuation
                ? $"a delay awaited by {continuation.GetType().GenericTypeArguments.LastOrDefault()?.FullName ?? continuation.GetType().FullName}"
                : $"a timer that calls {Describe(FieldValue(timer, "_timerCallback") as Delegate)}");
            if (release)
            {
                timer.GetType().GetMethod("Dispose", InstanceMembers, Type.EmptyTypes)?.Invoke(timer, null);
            }
        }
    }

    /// <summary>
    /// The second pass, for load contexts still alive after the first release and a few collections: timers whose
    /// state reaches the worker's objects through the shared framework's objects, found by a bounded search of each
    /// timer's object graph. A framework component that the worker's host created and never disposed keeps running on
    /// such a timer (ASP.NET Core's rate-limiting middleware never disposes its partitioned limiter, whose timer reaches
    /// the middleware, the pipeline and the worker's services: dotnet/aspnetcore#66434). The worker's host is gone, so
    /// the timer has nothing left to do for it. The search costs a few milliseconds per timer; it only runs when a
    /// worker stays alive.
    /// </summary>
    /// <returns>
    /// What was released (the first timer found), or with <paramref name="release"/> false, every timer found, with the
    /// path to the worker.
    /// </returns>
    public static List<string> ReleaseTimersReaching(IReadOnlyCollection<AssemblyLoadContext> contexts, bool release)
    {
        var found = new List<string>();
        var owners = new Owners(contexts);
        if (owners.IsEmpty)
        {
            return found;
        }

        foreach (var (timer, path) in TimersReaching(AllTimers(), owners, firstOnly: release))
        {
            found.Add($"a timer whose state reaches the worker's code ({path})");
            if (release)
            {
                timer.GetType().GetMethod("Dispose", InstanceMembers, Type.EmptyTypes)?.Invoke(timer, null);
            }
        }

        return found;
    }

    /// <summary>
    /// One breadth-first search from every timer's state at once, through reference fields and arrays, for objects of the
    /// worker's; each object is visited once, from the timer that reached it first, and at most
    /// <see cref="MaxSearchedObjects"/> are visited. Types, members, threads, execution contexts, other timers (the timer
    /// queue links every timer to every other) and live workers' objects are not entered. A timer whose path merged into another's is not found
    /// by this search: the verifier's later collections show whether the worker is free, and the next search runs then.
    /// Releasing stops at the first timer found, which keeps the search small (the worker is usually held by one); the
    /// verifier searches again after the next collection while the worker stays alive.
    /// </summary>
    private static List<(object Timer, string Path)> TimersReaching(List<object> timers, Owners owners, bool firstOnly)
    {
        var reaching = new List<(object Timer, string Path)>();
        var parents = new Dictionary<object, object?>(ReferenceEqualityComparer.Instance);
        var origins = new Dictionary<object, object>(ReferenceEqualityComparer.Instance);
        var fields = new Dictionary<Type, FieldInfo[]>();
        var queue = new Queue<object>();
        foreach (var timer in timers)
        {
            if (FieldValue(timer, "_state") is { } state && !IsLeaf(state) && parents.TryAdd(state, null))
            {
                origins[state] = timer;
                queue.Enqueue(state);
            }
        }

        var found = new HashSet<object>(ReferenceEqualityComparer.Instance);
        while (queue.Count > 0 && parents.Count < MaxSearchedObjects)
        {
            var current = queue.Dequeue();
            var origin = origins[current];
            if (owners.Own(current))
            {
                if (found.Add(origin))
                {
                    reaching.Add((origin, Path(current)));
                    if (firstOnly)
                    {
                        break;
                    }
                }

                continue;
            }

            // A live worker's objects are its own graph, not a path to the stopped worker's.
            if (current.GetType().IsCollectible || current is Type or MemberInfo or Thread or ExecutionContext ||
                current.GetType().FullName is "System.Threading.TimerQueueTimer" or "System.Threading.TimerQueue")
            {
                continue;
            }

            if (current is Array array)
            {
                if (array.GetType().GetElementType() is { IsPrimitive: false, IsEnum: false })
                {
                    foreach (var item in array)
                    {
                        Visit(item, current, origin);
                    }
                }

                continue;
            }

            if (!fields.TryGetValue(current.GetType(), out var declared))
            {
                declared = ReferenceFields(current.GetType());
                fields[current.GetType()] = declared;
            }

            foreach (var field in declared)
            {
                Visit(field.GetValue(current), current, origin);
            }
        }

        return reaching;

        void Visit(object? value, object parent, object origin)
        {
            if (value is not null && !IsLeaf(value) && parents.TryAdd(value, parent))
            {
                origins[value] = origin;
                queue.Enqueue(value);
            }
        }

        string Path(object owned)
        {
            var names = new List<string>();
            for (object? node = owned; node is not null; node = parents[node])
            {
                names.Add(node.GetType().Name);
            }

            names.Reverse();
            return string.Join(" -> ", names.Take(8));
        }
    }

    /// <summary>Bounds the timer search of <see cref="ReleaseTimersReaching"/>.</summary>
    internal const int MaxSearchedObjects = 20_000;

    private static bool IsLeaf(object value) => value is string || value.GetType().IsPrimitive || value.GetType().IsEnum;

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

    private static List<object> AllTimers()
    {
        var timers = new List<object>();
        var queueType = typeof(Timer).Assembly.GetType("System.Threading.TimerQueue");
        if (queueType?.GetProperty("Instances", StaticMembers)?.GetValue(null) is not Array queues)
        {
            return timers;
        }

        foreach (var queue in queues)
        {
            if (queue is null || queue.GetType().GetProperty("SharedLock", InstanceMembers)?.GetValue(queue) is not Lock sharedLock)
            {
                continue;
            }

            lock (sharedLock)
            {
                foreach (var listName in (string[])["_shortTimers", "_longTimers"])
                {
                    for (var timer = FieldValue(queue, listName); timer is not null; timer = FieldValue(timer, "_next"))
                    {
                        timers.Add(timer);
                    }
                }
            }
        }

        return timers;
    }

    /// <summary>
    /// The worker's handlers of <see cref="AppDomain.DomainUnload"/> and <see cref="AppDomain.ProcessExit"/> run, as the
    /// worker's code is unloaded, what they would run at the end of a process: libraries close what they keep open for
    /// the life of the process there (Microsoft.Data.Sqlite its connection pools, OpenTelemetry its self-diagnostics
    /// loop). Each handler gets <see cref="ExitHandlerTimeout"/>; one that takes longer is left running.
    /// </summary>
    private static void ExitHandlers(Owners owners, bool release, List<string> found)
    {
        if (!release)
        {
            return;
        }

        var domain = AppDomain.CurrentDomain;
        foreach (var name in (string[])[nameof(AppDomain.DomainUnload), nameof(AppDomain.ProcessExit)])
        {
            if (typeof(AppDomain).GetField(name, InstanceMembers)?.GetValue(domain) is not EventHandler handlers)
            {
                continue;
            }

            foreach (var handler in handlers.GetInvocationList().Cast<EventHandler>().Where(owners.Own))
            {
                var run = Task.Run(() => handler(domain, EventArgs.Empty));
                try
                {
                    if (!run.Wait(ExitHandlerTimeout))
                    {
                        found.Add($"{name} handler {Describe(handler)} did not finish within {ExitHandlerTimeout.TotalSeconds} s");
                    }
                }
                catch (AggregateException)
                {
                    // A failing handler is the app's; what it leaves behind is found below, or reported.
                }
            }
        }
    }

    /// <summary>How long the worker's exit handlers may run each.</summary>
    internal static readonly TimeSpan ExitHandlerTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Handlers of the process's static events that are the worker's code.</summary>
    private static void StaticEvents(Owners owners, bool release, List<string> found)
    {
        var domain = AppDomain.CurrentDomain;
        (Type Declaring, object? Target, string Event, string Field)[] events =
        [
            (typeof(AppDomain), domain, nameof(AppDomain.ProcessExit), nameof(AppDomain.ProcessExit)),
            (typeof(AppDomain), domain, nameof(AppDomain.DomainUnload), nameof(AppDomain.DomainUnload)),
            (typeof(AppContext), null, nameof(AppDomain.UnhandledException), nameof(AppDomain.UnhandledException)),
            (typeof(AppContext), null, nameof(AppDomain.FirstChanceException), nameof(AppDomain.FirstChanceException)),
            (typeof(AssemblyLoadContext), null, "AssemblyLoad", "AssemblyLoad"),
            (typeof(AssemblyLoadContext), null, "AssemblyResolve", "AssemblyResolve"),
            (typeof(AssemblyLoadContext), null, "TypeResolve", "TypeResolve"),
            (typeof(AssemblyLoadContext), null, "ResourceResolve", "ResourceResolve"),
            (typeof(AssemblyLoadContext), AssemblyLoadContext.Default, nameof(AssemblyLoadContext.Resolving), "_resolving"),
            (typeof(AssemblyLoadContext), AssemblyLoadContext.Default, nameof(AssemblyLoadContext.ResolvingUnmanagedDll), "_resolvingUnmanagedDll"),
            (typeof(AssemblyLoadContext), AssemblyLoadContext.Default, nameof(AssemblyLoadContext.Unloading), "_unloading"),
            (typeof(Console), null, nameof(Console.CancelKeyPress), "s_cancelCallbacks"),
        ];

        foreach (var (declaring, target, eventName, fieldName) in events)
        {
            var field = declaring.GetField(fieldName, target is null ? StaticMembers : InstanceMembers);
            var remove = declaring.GetEvent(eventName, target is null ? StaticMembers : InstanceMembers)?.GetRemoveMethod(nonPublic: true);
            if (field?.GetValue(target) is not Delegate handlers || remove is null)
            {
                continue;
            }

            foreach (var handler in handlers.GetInvocationList())
            {
                if (owners.Own(handler))
                {
                    found.Add($"a handler of {declaring.Name}.{eventName} ({Describe(handler)})");
                    if (release)
                    {
                        remove.Invoke(target, [handler]);
                    }
                }
            }
        }
    }

    private static string Describe(Delegate? handler) =>
        handler is null ? "nothing" : $"{handler.Method.DeclaringType?.FullName}.{handler.Method.Name}";

    /// <summary>What runs when a task completes (an async method's state machine, for an awaited task).</summary>
    private static object? Continuation(Task? task) => task is null ? null : FieldValue(task, "m_continuationObject");

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

    /// <summary>What a removed subscription is left pointing at: does nothing, and is never enabled.</summary>
    private sealed class NoObserver : IObserver<KeyValuePair<string, object?>>, IObserver<DiagnosticListener>
    {
        public static readonly NoObserver Instance = new();
        public static readonly Predicate<string> Disabled1 = static _ => false;
        public static readonly Func<string, object?, object?, bool> Disabled3 = static (_, _, _) => false;

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void OnNext(KeyValuePair<string, object?> value)
        {
        }

        public void OnNext(DiagnosticListener value)
        {
        }
    }
}
