using System.Collections;
using System.Diagnostics;
using System.Reflection;

namespace WorkerHosting.Workers;

internal static partial class ProcessRegistrations
{
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
