using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.Loader;

namespace LeakyLibrary;

/// <summary>
/// Each method leaves one kind of registration in a process-wide registry of the shared framework, and never removes
/// it: the process's registries then reference this library's code for as long as the process lives.
/// </summary>
public static class Leaks
{
    public const string EventSourceName = "LeakyLibrary-Events";
    public const string MeterName = "LeakyLibrary.Metrics";
    public const string InstrumentName = "leakylibrary.ticks";

    private static readonly List<IDisposable> s_subscriptions = [];
    private static Timer? s_timer;
    private static ActivityListener? s_activityListener;
    private static MeterListener? s_meterListener;
    private static LeakyEventListener? s_eventListener;

    /// <summary>Runs code of the library and leaves nothing behind (the tests' baseline).</summary>
    public static int LeaveNothing() => s_subscriptions.Count;

    /// <summary>
    /// Touches a static EventSource, which creates an EventCounter when a session enables it. Since .NET 8 the runtime's
    /// event provider references a source weakly: what keeps it (and this library) alive is a session polling its
    /// counters.
    /// </summary>
    public static void TouchEventSource() => LeakyEventSource.Log.Touched();

    /// <summary>Creates a static Meter with an observable counter whose callback is this library's.</summary>
    public static void CreateMeter() => LeakyMetrics.Touch();

    /// <summary>Starts a timer whose callback is this library's, kept in a static.</summary>
    public static void StartTimer() => s_timer = new Timer(Tick, null, TimeSpan.FromHours(1), TimeSpan.FromHours(1));

    /// <summary>Starts an async loop that awaits a delay for ever (a refresher that is never stopped).</summary>
    public static void StartDelayLoop() => _ = LoopForeverAsync();

    /// <summary>Handles ProcessExit, as libraries do to flush and close what they keep open for the process.</summary>
    public static void HandleProcessExit(Action onExit) => AppDomain.CurrentDomain.ProcessExit += (_, _) => onExit();

    /// <summary>Handles DomainUnload (run, like ProcessExit handlers, when the worker's code is unloaded).</summary>
    public static void HandleDomainUnload(Action onUnload) => AppDomain.CurrentDomain.DomainUnload += (_, _) => onUnload();

    /// <summary>Handles UnhandledException, as logging and error-reporting libraries do.</summary>
    public static void HandleUnhandledException() => AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;

    /// <summary>Handles FirstChanceException, as diagnostics libraries do.</summary>
    public static void HandleFirstChanceException() => AppDomain.CurrentDomain.FirstChanceException += OnFirstChanceException;

    /// <summary>Resolves assemblies for the default load context, as plugin hosts do.</summary>
    public static void HandleResolving() => AssemblyLoadContext.Default.Resolving += OnResolving;

    /// <summary>Handles Ctrl+C, as console-oriented libraries do.</summary>
    public static void HandleCancelKeyPress() => Console.CancelKeyPress += OnCancelKeyPress;

    /// <summary>
    /// Observes every DiagnosticListener of the process, and subscribes to those named <paramref name="listenerName"/>,
    /// keeping the subscriptions it got (as instrumentation libraries do).
    /// </summary>
    public static void ObserveAllListeners(string listenerName)
    {
        lock (s_subscriptions)
        {
            s_subscriptions.Add(DiagnosticListener.AllListeners.Subscribe(new AllListenersObserver(listenerName)));
        }
    }

    /// <summary>Subscribes to one DiagnosticListener, with a predicate, and keeps the subscription.</summary>
    public static void SubscribeTo(DiagnosticListener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (s_subscriptions)
        {
            s_subscriptions.Add(listener.Subscribe(new EventObserver(), static name => name.Length > 0));
        }
    }

    /// <summary>Disposes every subscription this library made, as it would at a clean shutdown.</summary>
    public static void Unsubscribe()
    {
        lock (s_subscriptions)
        {
            foreach (var subscription in s_subscriptions)
            {
                subscription.Dispose();
            }

            s_subscriptions.Clear();
        }
    }

    /// <summary>Adds an ActivityListener for the sources named <paramref name="sourceName"/>.</summary>
    public static void AddActivityListener(string sourceName)
    {
        s_activityListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == sourceName,
            Sample = static (ref _) => ActivitySamplingResult.AllData,
        };
        ActivitySource.AddActivityListener(s_activityListener);
    }

    /// <summary>Starts a MeterListener for the meters named <paramref name="meterName"/>.</summary>
    public static void StartMeterListener(string meterName)
    {
        s_meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == meterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        s_meterListener.Start();
    }

    /// <summary>Creates an EventListener (and never disposes it).</summary>
    public static void CreateEventListener() => s_eventListener = new LeakyEventListener();

    /// <summary>
    /// Creates what a framework component creates and never disposes: an object of the framework's (here a list) that
    /// owns a timer whose callback is the framework's and whose state is the component itself, which holds an object of
    /// this library (the way a rate limiter's timer reaches the middleware and the app's services). Nothing of this
    /// library is kept in a static: only the process's timer queue holds it all.
    /// </summary>
    public static void StartFrameworkTimerReachingLibraryObject()
    {
        var component = new List<object>();
        component.Add(new Timer(new TimerCallback(GC.KeepAlive), component, TimeSpan.FromHours(1), TimeSpan.FromHours(1)));
        component.Add(new LeakyThing());
    }

    private static void Tick(object? state)
    {
    }

    private static void OnUnhandledException(object? sender, UnhandledExceptionEventArgs e)
    {
    }

    private static void OnFirstChanceException(object? sender, FirstChanceExceptionEventArgs e)
    {
    }

    private static Assembly? OnResolving(AssemblyLoadContext context, AssemblyName name) => null;

    private static void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
    }

    private static async Task LoopForeverAsync()
    {
        while (true)
        {
            await Task.Delay(TimeSpan.FromHours(1)).ConfigureAwait(false);
        }
    }

    private sealed class AllListenersObserver(string listenerName) : IObserver<DiagnosticListener>
    {
        public void OnNext(DiagnosticListener value)
        {
            if (value.Name == listenerName)
            {
                lock (s_subscriptions)
                {
                    s_subscriptions.Add(value.Subscribe(new EventObserver()));
                }
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }

    private sealed class EventObserver : IObserver<KeyValuePair<string, object?>>
    {
        public int Count { get; private set; }

        public void OnNext(KeyValuePair<string, object?> value) => Count++;

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }
}

/// <summary>An object of the library, held by a framework component.</summary>
public sealed class LeakyThing
{
    public DateTimeOffset Created { get; } = DateTimeOffset.UtcNow;
}

[EventSource(Name = Leaks.EventSourceName)]
internal sealed class LeakyEventSource : EventSource
{
    public static readonly LeakyEventSource Log = new();

    private long _touched;
    private PollingCounter? _touchedCounter;

    [Event(1)]
    public void Touched()
    {
        Interlocked.Increment(ref _touched);
        WriteEvent(1);
    }

    /// <summary>Creates its counter when enabled, as EF Core's and ASP.NET Core's sources do.</summary>
    protected override void OnEventCommand(EventCommandEventArgs command)
    {
        if (command.Command == EventCommand.Enable)
        {
            _touchedCounter ??= new PollingCounter("touched", this, () => Interlocked.Read(ref _touched));
        }
    }
}

internal static class LeakyMetrics
{
    private static readonly Meter s_meter = new(Leaks.MeterName);
    private static long s_ticks;

    private static readonly ObservableCounter<long> s_counter = s_meter.CreateObservableCounter(Leaks.InstrumentName, () => Interlocked.Read(ref s_ticks));

    public static void Touch()
    {
        Interlocked.Increment(ref s_ticks);
        GC.KeepAlive(s_counter);
    }
}

internal sealed class LeakyEventListener : EventListener
{
    public int Written { get; private set; }

    protected override void OnEventWritten(EventWrittenEventArgs eventData) => Written++;
}
