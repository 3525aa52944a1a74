using System.Reflection;
using System.Runtime.Loader;

namespace WorkerHosting.Workers;

internal static partial class ProcessRegistrations
{
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

    /// <summary>What runs when a task completes (an async method's state machine, for an awaited task).</summary>
    private static object? Continuation(Task? task) => task is null ? null : FieldValue(task, "m_continuationObject");
}
