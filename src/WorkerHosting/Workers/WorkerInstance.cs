using System.Reflection;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Workers;

/// <summary>
/// The coordinator's handle on one worker: its load context, the thread that runs the app's entry point in it,
/// and how it is stopped and unloaded.
/// </summary>
internal sealed partial class WorkerInstance : IWorkerHandle
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
    private int _stopAsked;
    private bool _exitPlanned;

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

    public DateTimeOffset StartedAt { get; private set; }

    public long RequestsServed => Runtime.RequestsServed;

    public long RequestLimit => Runtime.RequestLimit;

    public bool StopRequested => Volatile.Read(ref _stopAsked) == 1;

    public bool ExitPlanned => Volatile.Read(ref _exitPlanned);

    public Task Ready => Runtime.Ready;

    public Task<Exception?> Exited => Runtime.Exited;

    public void Activate() => Runtime.ActivateListeners();

    public void Start()
    {
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
    /// Stops the worker: optionally sends new connections elsewhere first, lets handed-off connections begin their
    /// request, then asks its host to stop, which drains within the graceful timeout.
    /// </summary>
    public async Task StopAsync(bool redirectConnections, TimeSpan gracefulTimeout)
    {
        if (Interlocked.Exchange(ref _stopAsked, 1) == 1)
        {
            return;
        }

        if (redirectConnections)
        {
            Runtime.DeactivateListeners();
        }

        if (!await Runtime.WaitForHandoffsAsync(HandoffSettleTimeout, CancellationToken.None).ConfigureAwait(false))
        {
            Log.HandoffsUnsettled(_lifetimeLogger, Slot, Generation, Runtime.AwaitingFirstRequest);
        }

        Log.WorkerStopping(_lifetimeLogger, Slot, Generation, Runtime.ActiveRequests, Runtime.OpenConnections);

        // Clients leave first (Connection: close, GOAWAY, quiet idle connections closed), within part of the graceful
        // timeout; the server's own stop then has what is left of it for the requests still running.
        var started = _timeProvider.GetTimestamp();
        await Runtime.DrainConnectionsAsync(Min(WorkerRuntime.DrainWindow, gracefulTimeout / 2)).ConfigureAwait(false);
        var left = gracefulTimeout - _timeProvider.GetElapsedTime(started);
        Runtime.RequestStop(gracefulTimeout, left > TimeSpan.Zero ? left : TimeSpan.Zero);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>
    /// Drops the coordinator's references into the worker and starts unloading its load context. Returns what to
    /// verify it is collected with.
    /// </summary>
    public UnloadingWorker? Unload()
    {
        Runtime.DeactivateListeners();
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

        return new UnloadingWorker(Slot, Generation, _loadContextReference, loadContext.LoadedBytes, unsafeAssembly is null ? null :
            $"WorkerHosting keeps it in memory because it loaded {unsafeAssembly}: unloading such workers crashed the process on .NET 10.0.12 (see the Unloading section of WorkerHosting's README). Replace the process from time to time to reclaim them");
    }

    public UnloadingWorker? GiveUp(TimeSpan waited)
    {
        var loadContext = Volatile.Read(ref _loadContext);
        if (loadContext is null || _loadContextReference is null)
        {
            return null;
        }

        // Not unloaded: its code still runs. If it exits later, Unload() runs then.
        return new UnloadingWorker(Slot, Generation, _loadContextReference, loadContext.LoadedBytes,
            $"it did not exit within {waited} of being asked to stop (app code that ignores its cancellation token or blocks): a thread cannot be stopped in-process, so its code keeps running. Find the code that does not stop (dotnet-dump analyze, clrstack -all), or replace the process to reclaim it", AlreadyReported: true);
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

        // Read before the exit is announced: whoever sees it end sees whether it was asked to.
        Volatile.Write(ref _exitPlanned, StopRequested);
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

        [LoggerMessage(WorkersEventIds.WorkerHandoffsUnsettled, LogLevel.Debug,
            "Worker {WorkerSlot} (generation {Generation}) still has {Connections} handed-off connections with no request; stopping anyway.",
            EventName = "WorkerHandoffsUnsettled")]
        public static partial void HandoffsUnsettled(ILogger logger, int workerSlot, int generation, int connections);
    }
}
