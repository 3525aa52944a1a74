using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Workers;

/// <summary>
/// <see cref="ProcessRegistrations"/> against real collectible load contexts: each test loads tests/TestAssets/LeakyLibrary
/// into a context of its own, lets the library leave registrations in the process's registries, unloads the context,
/// and checks whether the context is collected within a bounded number of collections. The context and the library's
/// objects are only ever referenced from frames of <see cref="MethodImplOptions.NoInlining"/> helpers that have
/// returned, never from a test's own frame: only what the library left registered can keep the context alive.
/// </summary>
/// <remarks>
/// The registries are process-wide and other test classes run in parallel with this one: each test creates its own
/// context (and its own listeners and sources, with names of their own) and asserts only about what it created. The
/// tests of this class run one after another (xunit runs a class's tests serially), which they need: every load of the
/// library creates an EventSource of the same name, and the counters test enables every source of that name.
/// </remarks>
[Collection(ProcessWideStateTests.Name)]
public class ProcessRegistrationsTests
{
    /// <summary>Bounds the collections a context gets to be collected (unloading takes a few).</summary>
    private const int MaxCollections = 20;

    /// <summary>The name of the library's EventSource (LeakyLibrary.Leaks.EventSourceName).</summary>
    private const string LibraryEventSourceName = "LeakyLibrary-Events";

    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    private static readonly string LibraryPath = typeof(ProcessRegistrationsTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "LeakyLibraryPath").Value
        ?? throw new InvalidOperationException("The test assembly has no 'LeakyLibraryPath' metadata.");

    [Fact]
    public void Release_ALibraryThatLeftNothing_ReturnsNothingAndTheContextIsCollected()
    {
        // The baseline: loading the library and running its code keeps nothing of it once the context is unloaded.
        var (context, released) = LeakAndRelease(static library => library.Call("LeaveNothing"));

        Assert.Empty(released);
        Assert.True(IsCollected(context));
    }

    [Fact]
    public void Release_AStaticEventSourceOfTheLibrary_DescribesItWithoutDisposingAndTheContextIsCollected()
    {
        // Since .NET 8 (dotnet/runtime#80482) the EventPipe provider references its source weakly: a source nothing
        // listens to does not keep its load context alive, and it is not disposed (disposing the sources of unloading
        // contexts crashed the process under load). It goes with its context (the next test has one that holds it).
        var (context, released) = LeakAndRelease(static library =>
        {
            library.Call("TouchEventSource");
            Assert.Contains(EventSource.GetSources(), s => s.Name == LibraryEventSourceName);
        });

        Assert.Equal([$"EventSource '{LibraryEventSourceName}' (LeakyLibrary.LeakyEventSource)"], released);
        Assert.True(IsCollected(context));
        Assert.DoesNotContain(EventSource.GetSources(), s => s.Name == LibraryEventSourceName);
    }

    [Fact]
    public void Release_AStaticEventSourceWhoseCountersAListenerEnabled_TheContextIsCollected()
    {
        // A session that asks for EventCounters (dotnet-counters, dotnet-monitor, an in-process collector) makes the
        // runtime poll the source's counters: CounterGroup.s_counterGroupEnabledList then holds the source's counter
        // group, and with it the source and its counters' callbacks, until the session disables the source.
        using var counters = new CountersListener();
        var (context, released) = LeakAndRelease(static library => library.Call("TouchEventSource"));

        Assert.Equal([$"EventSource '{LibraryEventSourceName}' (LeakyLibrary.LeakyEventSource)"], released);
        Assert.True(IsCollected(context));
    }

    [Fact]
    public void Release_AStaticMeterWithAnObservableCounterOfTheLibrary_DisposesItAndTheContextIsCollected() =>
        AssertReleasedAndCollected(
            static library => library.Call("CreateMeter"),
            "Meter 'LeakyLibrary.Metrics' (the callback of its instrument 'leakylibrary.ticks')");

    [Fact]
    public void Release_ATimerWithACallbackOfTheLibrary_DisposesItAndTheContextIsCollected() =>
        AssertReleasedAndCollected(
            static library => library.Call("StartTimer"),
            "a timer that calls LeakyLibrary.Leaks.Tick");

    [Fact]
    public void Release_AnAsyncLoopAwaitingADelayForEver_DisposesTheDelaysTimerAndTheContextIsCollected()
    {
        var (context, released) = LeakAndRelease(static library => library.Call("StartDelayLoop"));

        Assert.StartsWith("a delay awaited by ", Assert.Single(released), StringComparison.Ordinal);
        Assert.True(IsCollected(context));
    }

    [Fact]
    public void Release_AnAsyncLoopAwaitingADelayForEver_DescriptionNamesTheLoop()
    {
        var (context, released) = LeakAndRelease(static library => library.Call("StartDelayLoop"));

        // The awaiting continuation is AsyncTaskMethodBuilder<TResult>.AsyncStateMachineBox<TStateMachine>, whose generic
        // arguments are [TResult, TStateMachine]: the loop is the last one, the first is VoidTaskResult.
        Assert.Contains("LeakyLibrary.Leaks+<LoopForeverAsync>", Assert.Single(released), StringComparison.Ordinal);
        Assert.True(IsCollected(context));
    }

    [Fact]
    public void Release_AnActivityListenerOfTheLibrary_DisposesItAndTheContextIsCollected() =>
        AssertReleasedAndCollected(
            static library => library.Call("AddActivityListener", UniqueName("activities")),
            "ActivityListener");

    [Fact]
    public void Release_AStartedMeterListenerOfTheLibrary_DisposesItAndTheContextIsCollected() =>
        AssertReleasedAndCollected(
            static library => library.Call("StartMeterListener", UniqueName("meter")),
            "MeterListener");

    [Fact]
    public void Release_AnEventListenerOfTheLibrary_DisposesItAndTheContextIsCollected() =>
        AssertReleasedAndCollected(
            static library => library.Call("CreateEventListener"),
            "EventListener LeakyLibrary.LeakyEventListener");

    [Fact]
    public void Release_AnAllListenersObserverOfTheLibraryAndTheSubscriptionItMade_RemovesBothAndTheContextIsCollected()
    {
        using var listener = new DiagnosticListener(UniqueName("listener"));

        var (context, released) = LeakAndRelease(library => library.Call("ObserveAllListeners", listener.Name));

        Assert.Equal(
            [$"a subscription to DiagnosticListener '{listener.Name}'", "an observer of DiagnosticListener.AllListeners (LeakyLibrary.Leaks+AllListenersObserver)"],
            released);
        Assert.True(IsCollected(context));
    }

    [Theory]
    [InlineData("HandleProcessExit", "ProcessExit")]
    [InlineData("HandleDomainUnload", "DomainUnload")]
    public void Release_AnExitHandlerOfTheLibrary_RunsItOnceAndRemovesIt(string method, string eventName)
    {
        var runs = 0;
        var context = LeakInNewContext(library => library.Call(method, new Action(() => Interlocked.Increment(ref runs))));
        Assert.Equal(0, Volatile.Read(ref runs));

        var released = Release(context);

        Assert.Equal(1, Volatile.Read(ref runs));
        Assert.StartsWith($"a handler of AppDomain.{eventName} (LeakyLibrary.Leaks+", Assert.Single(released), StringComparison.Ordinal);
        Assert.True(IsCollected(context));
        Assert.Equal(1, Volatile.Read(ref runs));
    }

    [Theory]
    [InlineData("HandleUnhandledException", "a handler of AppContext.UnhandledException (LeakyLibrary.Leaks.OnUnhandledException)")]
    [InlineData("HandleFirstChanceException", "a handler of AppContext.FirstChanceException (LeakyLibrary.Leaks.OnFirstChanceException)")]
    [InlineData("HandleResolving", "a handler of AssemblyLoadContext.Resolving (LeakyLibrary.Leaks.OnResolving)")]
    [InlineData("HandleCancelKeyPress", "a handler of Console.CancelKeyPress (LeakyLibrary.Leaks.OnCancelKeyPress)")]
    public void Release_AStaticEventHandlerOfTheLibrary_RemovesItAndTheContextIsCollected(string method, string expected) =>
        AssertReleasedAndCollected(library => library.Call(method), expected);

    /// <summary>Every kind of registration the library leaves that keeps its context alive on this runtime.</summary>
    public static TheoryData<string> LeakingKinds =>
    [
        "CreateMeter", "StartTimer", "StartDelayLoop", "StartFrameworkTimerReachingLibraryObject", "AddActivityListener",
        "StartMeterListener", "CreateEventListener", "ObserveAllListeners", "HandleProcessExit", "HandleDomainUnload",
        "HandleUnhandledException", "HandleFirstChanceException", "HandleResolving", "HandleCancelKeyPress",
    ];

    [Theory]
    [MemberData(nameof(LeakingKinds))]
    public void Release_NotCalled_TheRegistrationKeepsTheUnloadedContextAlive(string method)
    {
        // The control: the same setups as the tests above, without the release, fail to unload. Proves that those tests
        // can fail, and that what they release is what kept the context alive.
        var context = LeakInNewContext(library => library.Call(method, method switch
        {
            "HandleProcessExit" or "HandleDomainUnload" => [new Action(static () => { })],
            "AddActivityListener" or "StartMeterListener" or "ObserveAllListeners" => [UniqueName(method)],
            _ => [],
        }));

        Assert.False(IsCollected(context));

        // Leave nothing behind for the other tests (the tests above assert what this releases).
        ReleaseTimersReaching(context, release: true);
        Release(context);
    }

    [Fact]
    public void Release_ALibrarySubscriptionBehindALiveSubscribersOnTheSameListener_RemovesItAndTheLiveSubscriptionStillReceivesEvents()
    {
        using var listener = new DiagnosticListener(UniqueName("listener"));
        var observer = new RecordingObserver();
        IDisposable? own = null;

        // The library subscribes first, the test second: the test's node is ahead of the library's and links to it, so
        // removing the library's copies the test's node, and the test's original still links to the library's.
        var context = LeakInNewContext(library =>
        {
            library.Call("SubscribeTo", listener);
            own = listener.Subscribe(observer);
        });
        Assert.NotNull(own);

        var released = Release(context);

        Assert.Equal([$"a subscription to DiagnosticListener '{listener.Name}'"], released);
        Assert.True(IsCollected(context));
        listener.Write("after release", null);
        own.Dispose();
        listener.Write("after dispose", null);
        Assert.Equal(["after release"], observer.Names);
    }

    [Fact]
    public void Release_ASubscriptionTheLibraryRemovedStillLinkedFromALiveSubscribersNode_NeutralizesItAndTheLiveSubscriptionStillReceivesEvents()
    {
        using var listener = new DiagnosticListener(UniqueName("listener"));
        var observer = new RecordingObserver();
        var subscriber = new ListenerSubscriber(listener, observer);
        IDisposable? observing = null;

        // The library subscribes, then the test's AllListeners subscriber (as OpenTelemetry's does, keeping what it
        // got), then the library removes its own subscription: the listener copies the test's node, and the node the
        // test's subscriber keeps still links to the library's removed one.
        var context = LeakInNewContext(library =>
        {
            library.Call("SubscribeTo", listener);
            observing = DiagnosticListener.AllListeners.Subscribe(subscriber);
            library.Call("Unsubscribe");
        });
        Assert.NotNull(observing);
        using var observed = observing;
        listener.Write("before release", null);

        // That stale link alone keeps the library's code alive.
        Assert.False(IsCollected(context));
        var expected = $"a removed subscription still linked from another subscriber's to DiagnosticListener '{listener.Name}'";
        Assert.Equal([expected], Find(context));

        var released = Release(context);

        Assert.Equal([expected], released);
        Assert.True(IsCollected(context));
        listener.Write("after release", null);
        subscriber.Dispose();
        listener.Write("after dispose", null);
        Assert.Equal(["before release", "after release"], observer.Names);
    }

    [Fact]
    public async Task Release_RegistrationsOfTheDefaultContext_AreKeptAndStillWork()
    {
        using var ownSource = new OwnEventSource();
        using var ownEvents = new RecordingEventListener();
        ownEvents.EnableEvents(ownSource, EventLevel.Verbose);

        using var meter = new Meter(UniqueName("meter"));
        meter.CreateObservableGauge("own.gauge", static () => 42);
        var measured = new ConcurrentQueue<int>();
        using var meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter == meter)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        meterListener.SetMeasurementEventCallback<int>((_, value, _, _) => measured.Enqueue(value));
        meterListener.Start();

        using var activitySource = new ActivitySource(UniqueName("activities"));
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = source => source == activitySource,
            Sample = static (ref _) => ActivitySamplingResult.AllData,
        };
        ActivitySource.AddActivityListener(activityListener);

        // A timer of the test's, whose state (a framework collection) holds an object of the test's.
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var timer = new Timer(_ => fired.TrySetResult(), new List<object> { new OwnThing() }, TimeSpan.FromHours(1), Timeout.InfiniteTimeSpan);

        var exits = 0;
        EventHandler onExit = (_, _) => Interlocked.Increment(ref exits);
        AppDomain.CurrentDomain.ProcessExit += onExit;
        try
        {
            // The library leaves the same kinds behind, so that the release has something to do next to the test's.
            var context = LeakInNewContext(static library =>
            {
                library.Call("TouchEventSource");
                library.Call("CreateMeter");
                library.Call("StartMeterListener", UniqueName("meter"));
                library.Call("CreateEventListener");
                library.Call("StartTimer");
                library.Call("StartFrameworkTimerReachingLibraryObject");
                library.Call("HandleProcessExit", new Action(static () => { }));
            });

            var released = Release(context);
            var reaching = ReleaseTimersReaching(context, release: true);

            Assert.True(IsCollected(context));
            // Only the library's registrations were released.
            Assert.Equal(
                [
                    $"EventSource '{LibraryEventSourceName}' (LeakyLibrary.LeakyEventSource)",
                    "EventListener LeakyLibrary.LeakyEventListener",
                    "Meter 'LeakyLibrary.Metrics' (the callback of its instrument 'leakylibrary.ticks')",
                    "MeterListener",
                    "a timer that calls LeakyLibrary.Leaks.Tick",
                ],
                released.SkipLast(1));
            Assert.StartsWith("a handler of AppDomain.ProcessExit (LeakyLibrary.Leaks+", released[^1], StringComparison.Ordinal);
            Assert.Equal(["a timer whose state reaches the worker's code (List`1 -> Object[] -> LeakyThing)"], reaching);

            // The test's EventSource is not disposed, and its EventListener still gets its events.
            Assert.Contains(ownSource, EventSource.GetSources());
            ownSource.Ping(7);
            Assert.Equal([$"{OwnEventSource.SourceName}/Ping/7"], ownEvents.Events);

            // The test's meter and its MeterListener still measure.
            meterListener.RecordObservableInstruments();
            Assert.Equal([42], measured);

            // The test's ActivityListener still samples. (The library's is left out above: Release does not find
            // ActivityListeners on this runtime, see Release_AnActivityListenerOfTheLibrary_….)
            using (var activity = activitySource.StartActivity("own"))
            {
                Assert.NotNull(activity);
            }

            // The test's timer still runs.
            Assert.True(timer.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
            await fired.Task.WaitAsync(WaitLimit);

            // The test's ProcessExit handler did not run, and is still registered.
            Assert.Equal(0, Volatile.Read(ref exits));
            Assert.Contains(onExit, ProcessExitHandlers());
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= onExit;
        }
    }

    [Fact]
    public void ReleaseTimersReaching_AFrameworkTimerWhoseStateHoldsALibraryObject_DisposesItAndDescribesThePath()
    {
        var context = LeakInNewContext(static library => library.Call("StartFrameworkTimerReachingLibraryObject"));

        // The timer's callback and state are the framework's: the first pass does not see it, and it keeps the
        // context alive.
        Assert.Empty(Release(context));
        Assert.False(IsCollected(context));

        var released = ReleaseTimersReaching(context, release: true);

        Assert.Equal(["a timer whose state reaches the worker's code (List`1 -> Object[] -> LeakyThing)"], released);
        Assert.True(IsCollected(context));
    }

    [Fact]
    public void ReleaseTimersReaching_ReleaseFalse_DescribesTheTimerWithoutDisposingIt()
    {
        var context = LeakInNewContext(static library => library.Call("StartFrameworkTimerReachingLibraryObject"));
        const string Expected = "a timer whose state reaches the worker's code (List`1 -> Object[] -> LeakyThing)";

        Assert.Equal([Expected], ReleaseTimersReaching(context, release: false));
        Assert.False(IsCollected(context));
        Assert.Equal([Expected], ReleaseTimersReaching(context, release: false));

        Assert.Equal([Expected], ReleaseTimersReaching(context, release: true));
        Assert.True(IsCollected(context));
    }

    [Fact]
    public void Find_RegistrationsOfTheLibrary_DescribesThemWithoutReleasingOrRunningExitHandlers()
    {
        var exits = 0;
        var context = LeakInNewContext(library =>
        {
            library.Call("CreateMeter");
            library.Call("StartTimer");
            library.Call("HandleProcessExit", new Action(() => Interlocked.Increment(ref exits)));
        });

        var found = Find(context);

        Assert.Equal(3, found.Count);
        Assert.Equal("Meter 'LeakyLibrary.Metrics' (the callback of its instrument 'leakylibrary.ticks')", found[0]);
        Assert.Equal("a timer that calls LeakyLibrary.Leaks.Tick", found[1]);
        Assert.StartsWith("a handler of AppDomain.ProcessExit (LeakyLibrary.Leaks+", found[2], StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref exits));
        Assert.False(IsCollected(context));

        // Found again: nothing was released. Then released, the exit handler run once.
        Assert.Equal(found, Find(context));
        Assert.Equal(found, Release(context));
        Assert.Equal(1, Volatile.Read(ref exits));
        Assert.True(IsCollected(context));
    }

    private static void AssertReleasedAndCollected(Action<Library> leak, string expected, [CallerMemberName] string name = "")
    {
        var (context, released) = LeakAndRelease(leak, name);

        Assert.Equal([expected], released);
        Assert.True(IsCollected(context));
    }

    /// <summary>
    /// Loads the library into a new collectible load context (from bytes, as workers load their assemblies), runs
    /// <paramref name="leak"/> with it, unloads the context and returns a weak reference to it. Not inlined: nothing of
    /// the context stays on the caller's frame.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference LeakInNewContext(Action<Library> leak, [CallerMemberName] string name = "")
    {
        var context = LoadLibrary(name, leak);
        context.Unload();
        return new WeakReference(context);
    }

    /// <summary>
    /// <see cref="LeakInNewContext"/>, then the release, with the context referenced until the release returns: for
    /// what may not keep the context alive on its own (a collection between the two would leave nothing to release).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference Context, List<string> Released) LeakAndRelease(Action<Library> leak, [CallerMemberName] string name = "")
    {
        var context = LoadLibrary(name, leak);
        context.Unload();
        return (new WeakReference(context), ProcessRegistrations.Release([context]));
    }

    private static AssemblyLoadContext LoadLibrary(string name, Action<Library> leak)
    {
        var context = new AssemblyLoadContext(name, isCollectible: true);
        Assembly assembly;
        using (var bytes = new MemoryStream(File.ReadAllBytes(LibraryPath)))
        {
            assembly = context.LoadFromStream(bytes);
        }

        Assert.Same(context, AssemblyLoadContext.GetLoadContext(assembly));
        leak(new Library(assembly.GetType("LeakyLibrary.Leaks", throwOnError: true)!));
        return context;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<string> Release(WeakReference context) => ProcessRegistrations.Release([Alive(context)]);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<string> Find(WeakReference context) => ProcessRegistrations.Find([Alive(context)]);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<string> ReleaseTimersReaching(WeakReference context, bool release) =>
        ProcessRegistrations.ReleaseTimersReaching([Alive(context)], release);

    private static AssemblyLoadContext Alive(WeakReference context) =>
        context.Target as AssemblyLoadContext ?? throw new InvalidOperationException("The load context was collected already.");

    /// <summary>Whether the context is collected within <see cref="MaxCollections"/> full collections.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool IsCollected(WeakReference context)
    {
        for (var attempt = 0; attempt < MaxCollections && context.IsAlive; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return !context.IsAlive;
    }

    private static string UniqueName(string kind) => $"{nameof(ProcessRegistrationsTests)}.{kind}.{Guid.NewGuid():N}";

    private static Delegate[] ProcessExitHandlers() =>
        (typeof(AppDomain).GetField(nameof(AppDomain.ProcessExit), BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(AppDomain.CurrentDomain) as EventHandler)
            ?.GetInvocationList() ?? [];

    /// <summary>The library's entry points, called by name (the tests do not reference its assembly).</summary>
    private sealed class Library(Type leaks)
    {
        public void Call(string method, params object?[] arguments) =>
            (leaks.GetMethod(method, BindingFlags.Public | BindingFlags.Static)
                ?? throw new InvalidOperationException($"LeakyLibrary has no method {method}.")).Invoke(null, arguments);
    }

    /// <summary>An observer of the default context: records the names of the events it receives.</summary>
    private sealed class RecordingObserver : IObserver<KeyValuePair<string, object?>>
    {
        private readonly ConcurrentQueue<string> _names = new();

        public IReadOnlyList<string> Names => [.. _names];

        public void OnNext(KeyValuePair<string, object?> value) => _names.Enqueue(value.Key);

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }

    /// <summary>
    /// An observer of <see cref="DiagnosticListener.AllListeners"/> of the default context that subscribes to one listener
    /// and keeps the subscription in a list of its own, as instrumentation libraries do.
    /// </summary>
    private sealed class ListenerSubscriber(DiagnosticListener target, IObserver<KeyValuePair<string, object?>> observer)
        : IObserver<DiagnosticListener>, IDisposable
    {
        private readonly List<IDisposable> _subscriptions = [];

        public void OnNext(DiagnosticListener value)
        {
            if (value == target)
            {
                lock (_subscriptions)
                {
                    _subscriptions.Add(value.Subscribe(observer));
                }
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void Dispose()
        {
            lock (_subscriptions)
            {
                foreach (var subscription in _subscriptions)
                {
                    subscription.Dispose();
                }

                _subscriptions.Clear();
            }
        }
    }

    [EventSource(Name = SourceName)]
    private sealed class OwnEventSource : EventSource
    {
        public const string SourceName = "WorkerHosting-Tests-ProcessRegistrations";

        [Event(1)]
        public void Ping(int value) => WriteEvent(1, value);
    }

    /// <summary>An EventListener of the default context: records the events of the sources it enabled.</summary>
    private sealed class RecordingEventListener : EventListener
    {
        private readonly ConcurrentQueue<string> _events = new();

        public IReadOnlyList<string> Events => [.. _events];

        protected override void OnEventWritten(EventWrittenEventArgs eventData) =>
            _events.Enqueue($"{eventData.EventSource.Name}/{eventData.EventName}/{string.Join(",", eventData.Payload ?? [])}");
    }

    /// <summary>Asks the library's EventSources for their EventCounters every second, as a counters session does.</summary>
    private sealed class CountersListener : EventListener
    {
        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == LibraryEventSourceName)
            {
                EnableEvents(eventSource, EventLevel.Verbose, EventKeywords.All, new Dictionary<string, string?> { ["EventCounterIntervalSec"] = "1" });
            }
        }
    }

    private sealed class OwnThing
    {
        public DateTimeOffset Created { get; } = DateTimeOffset.UtcNow;
    }
}
