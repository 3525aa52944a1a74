using System.Reflection;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Workers;

/// <summary>
/// The coordinator's handle on one worker: its load context, the thread that runs the app's entry point in it,
/// and how it is stopped and unloaded.
/// </summary>
internal sealed partial class WorkerInstance
{
    /// <summary>
    /// How long a stop waits for connections just handed to the worker to begin their first request.
    /// </summary>
    internal static readonly TimeSpan HandoffSettleTimeout = TimeSpan.FromSeconds(1);

    private readonly WorkerApplication _application;
    private readonly SharedAssemblies _sharedAssemblies;
    private readonly ILogger _lifetimeLogger;
    private readonly TimeProvider _timeProvider;
    private WorkerLoadContext? _loadContext;
    private WeakReference? _loadContextReference;
    private long _startedAt;
    private int _state = (int)WorkerState.Starting;

    public WorkerInstance(WorkerRuntime runtime, WorkerApplication application, SharedAssemblies sharedAssemblies, ILogger lifetimeLogger, TimeProvider timeProvider)
    {
        Runtime = runtime;
        _application = application;
        _sharedAssemblies = sharedAssemblies;
        _lifetimeLogger = lifetimeLogger;
        _timeProvider = timeProvider;
    }

    public WorkerRuntime Runtime { get; }

    public int Slot => Runtime.Slot;

    public int Generation => Runtime.Generation;

    /// <summary>Time from creating the load context to the worker's host having started.</summary>
    public TimeSpan StartDuration { get; private set; }

    public DateTimeOffset StartedAt { get; private set; }

    public WorkerState State => (WorkerState)Volatile.Read(ref _state);

    /// <summary>The coordinator is replacing or removing this worker: its exit is planned, not a failure.</summary>
    public bool Retiring { get; private set; }

    /// <summary>A restart is watching this worker until it has served long enough to reset the slot's backoff.</summary>
    public bool InProbation { get; set; }

    /// <summary>The pool has seen this worker exit (set under the pool's lock).</summary>
    public bool ExitObserved { get; set; }

    private readonly TaskCompletionSource _cleanedUp = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the pool has dealt with the worker's exit (its slot is free, its context unloading).</summary>
    public Task CleanedUp => _cleanedUp.Task;

    public void MarkCleanedUp() => _cleanedUp.TrySetResult();

    public WorkerSnapshot Snapshot() => new(Slot, Generation, State, StartedAt, Runtime.RequestsServed);

    public void MarkReady()
    {
        Interlocked.CompareExchange(ref _state, (int)WorkerState.Ready, (int)WorkerState.Starting);
        Runtime.ActivateListeners();
    }

    public void Start()
    {
        _startedAt = _timeProvider.GetTimestamp();
        StartedAt = _timeProvider.GetUtcNow();
        Log.WorkerBooting(_lifetimeLogger, Slot, Generation);

        _loadContext = new WorkerLoadContext($"WorkerHosting worker {Slot} generation {Generation}", _application.AssemblyPath, _sharedAssemblies);
        _loadContextReference = new WeakReference(_loadContext, trackResurrection: false);

        var thread = new Thread(static state => ((WorkerInstance)state!).Run())
        {
            IsBackground = true,
            Name = $"WorkerHosting worker {Slot}",
        };

        // UnsafeStart: the worker's flow starts clean, with nothing of the coordinator's execution context.
        thread.UnsafeStart(this);
    }

    /// <summary>
    /// Waits until the worker is ready; returns the exception it failed with, if it did, or a
    /// <see cref="TimeoutException"/> if it was not ready within <paramref name="timeout"/>.
    /// </summary>
    public async Task<Exception?> WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await Runtime.Ready.WaitAsync(timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
            StartDuration = _timeProvider.GetElapsedTime(_startedAt);
            return null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TimeoutException) when (!Runtime.Ready.IsCompleted)
        {
            return new TimeoutException(
                $"Worker {Slot} (generation {Generation}) was not ready within the startup timeout ({timeout}). Raise Workers:StartupTimeout if the app needs longer to start.");
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>
    /// Stops the worker: optionally sends new connections elsewhere first, lets handed-off connections begin their
    /// request, then stops its host, which drains within the graceful timeout. Returns false if the worker had not
    /// exited when <paramref name="cancellationToken"/> fired.
    /// </summary>
    public async Task<bool> StopAsync(bool redirectConnections, TimeSpan gracefulTimeout, CancellationToken cancellationToken)
    {
        var started = _timeProvider.GetTimestamp();
        Retiring = true;
        Volatile.Write(ref _state, (int)WorkerState.Draining);
        if (redirectConnections)
        {
            Runtime.DeactivateListeners();
        }

        if (!await Runtime.WaitForHandoffsAsync(HandoffSettleTimeout, cancellationToken).ConfigureAwait(false))
        {
            Log.HandoffsUnsettled(_lifetimeLogger, Slot, Generation, Runtime.AwaitingFirstRequest);
        }

        Log.WorkerStopping(_lifetimeLogger, Slot, Generation, Runtime.ActiveRequests, Runtime.OpenConnections);
        Runtime.RequestStop(gracefulTimeout);

        try
        {
            await Runtime.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.WorkerDidNotExit(_lifetimeLogger, Slot, Generation);
            return false;
        }

        Log.WorkerStopped(_lifetimeLogger, Slot, Generation, _timeProvider.GetElapsedTime(started).TotalMilliseconds, Runtime.RequestsServed);
        return true;
    }

    /// <summary>
    /// Drops the coordinator's references into the worker and starts unloading its load context. Returns what to
    /// verify it is collected with.
    /// </summary>
    public UnloadingWorker? Unload()
    {
        Runtime.Detach();
        var loadContext = Interlocked.Exchange(ref _loadContext, null);
        if (loadContext is null || _loadContextReference is null)
        {
            return null;
        }

        var unsafeAssembly = UnsafeToUnload(loadContext);
        if (unsafeAssembly is null)
        {
            loadContext.Unload();
        }
        else
        {
            // Kept for the life of the process: a context that is never unloaded is never collected.
            lock (_keptAlive)
            {
                _keptAlive.Add(loadContext);
            }
        }

        return new UnloadingWorker(Slot, Generation, _loadContextReference, loadContext.LoadedBytes, unsafeAssembly);
    }

    /// <summary>
    /// The load contexts of stopped workers that are deliberately not unloaded (see <see cref="UnsafeToUnload"/>).
    /// </summary>
    private static readonly List<WorkerLoadContext> _keptAlive = [];

    /// <summary>
    /// Assemblies whose code, once a worker that ran it is unloaded, crashed the process: measured on .NET 10.0.12 under
    /// load, an app with EF Core crashed within 2-10 reloads once its workers unloaded (access violations in live
    /// workers' static bases and static constructors and in the GC), while apps with OpenTelemetry, Serilog or
    /// Microsoft.Data.Sqlite alone unloaded without a crash. A leak is better than a crash: such a worker is kept in memory
    /// and reported as leaked, which the process's replacement reclaims (docs/architecture.md).
    /// </summary>
    internal static readonly string[] UnsafeToUnloadAssemblies = ["Microsoft.EntityFrameworkCore"];

    private static string? UnsafeToUnload(WorkerLoadContext loadContext) =>
        loadContext.Assemblies.Select(a => a.GetName().Name).FirstOrDefault(name => UnsafeToUnloadAssemblies.Contains(name));

    private void Run()
    {
        Exception? failure = null;
        try
        {
            RunEntryPoint();
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            failure = e.InnerException;
        }
        catch (Exception e)
        {
            failure = e;
        }

        Runtime.OnExited(failure);
    }

    private void RunEntryPoint()
    {
        var loadContext = _loadContext ?? throw new InvalidOperationException("The worker has no load context.");
        using var scope = loadContext.EnterContextualReflection();
        Runtime.EnterOnCurrentThread();

        var assembly = loadContext.LoadFromAssemblyName(_application.AssemblyName);
        var entryPoint = assembly.EntryPoint
            ?? throw new InvalidOperationException($"'{_application.AssemblyName.Name}' has no entry point.");

        object?[]? parameters = entryPoint.GetParameters().Length == 0 ? null : [Runtime.Args];
        var result = entryPoint.Invoke(null, parameters);
        if (result is Task task)
        {
            task.GetAwaiter().GetResult();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.WorkerBooting, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) is booting.", EventName = "WorkerBooting")]
        public static partial void WorkerBooting(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.WorkerStopping, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) is draining {Requests} in-flight requests on {Connections} open connections.",
            EventName = "WorkerStopping")]
        public static partial void WorkerStopping(ILogger logger, int workerSlot, int generation, int requests, int connections);

        [LoggerMessage(WorkersEventIds.WorkerStopped, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) stopped in {ElapsedMilliseconds:F0} ms after serving {RequestsServed} requests.",
            EventName = "WorkerStopped")]
        public static partial void WorkerStopped(ILogger logger, int workerSlot, int generation, double elapsedMilliseconds, long requestsServed);

        [LoggerMessage(WorkersEventIds.WorkerDidNotExit, LogLevel.Error,
            "Worker {WorkerSlot} (generation {Generation}) did not exit in time; leaving it behind.", EventName = "WorkerDidNotExit")]
        public static partial void WorkerDidNotExit(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.WorkerHandoffsUnsettled, LogLevel.Debug,
            "Worker {WorkerSlot} (generation {Generation}) still has {Connections} handed-off connections with no request; stopping anyway.",
            EventName = "WorkerHandoffsUnsettled")]
        public static partial void HandoffsUnsettled(ILogger logger, int workerSlot, int generation, int connections);
    }
}
