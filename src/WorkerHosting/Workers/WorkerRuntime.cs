using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using WorkerHosting.Coordinator;
using WorkerHosting.Diagnostics;
using WorkerHosting.Listeners;

namespace WorkerHosting.Workers;

/// <summary>
/// The bridge between the coordinator and one worker. It lives in the default load context and is the ambient
/// state that tells code running inside a worker that it is one. It holds no reference into the worker's load
/// context once the worker has exited (<see cref="Detach"/>).
/// </summary>
internal sealed partial class WorkerRuntime
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ConnectionTracker, byte> _connections = new();
    private static readonly AsyncLocal<WorkerRuntime?> _current = new();

    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Exception?> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _listenersLock = new();
    private readonly List<WorkerConnectionListener> _listeners = [];
    private readonly TimeProvider _timeProvider;
    private readonly WorkersMetrics _metrics;
    private readonly ShutdownState _shutdown;

    private Action<TimeSpan>? _stopApplication;
    private Action? _afterEntryPoint;
    private Action? _onRequestLimitReached;
    private long _requestLimit = long.MaxValue;
    private TimeSpan _stopGracefulTimeout;
    private TimeSpan _stopServerTimeout;
    private int _hostClaimed;
    private int _stopRequested;
    private bool _listenersActive;
    private long _requestsServed;
    private int _activeRequests;
    private int _openConnections;
    private int _awaitingFirstRequest;

    public WorkerRuntime(
        int slot,
        int generation,
        string[] args,
        TimeSpan gracefulTimeout,
        SharedEndpoints endpoints,
        SocketConnectionContextFactory connectionFactory,
        ILogger logger,
        TimeProvider timeProvider,
        IWorkerPool pool,
        WorkersMetrics metrics,
        ShutdownState shutdown)
    {
        _metrics = metrics;
        _shutdown = shutdown;
        Slot = slot;
        Generation = generation;
        Args = args;
        GracefulTimeout = gracefulTimeout;
        Endpoints = endpoints;
        ConnectionFactory = connectionFactory;
        Logger = logger;
        _timeProvider = timeProvider;
        _stopGracefulTimeout = _stopServerTimeout = gracefulTimeout;
        Pool = pool;
        Context = new WorkerContext(slot, generation, WorkerRole.Worker);
    }

    /// <summary>What a test registered in the coordinator (WorkerHosting.Testing), applied to the worker's host; null otherwise.</summary>
    public WorkerOverrides? Overrides { get; init; }

    /// <summary>
    /// Gets the worker whose code is running on the current flow, or <see langword="null"/> outside workers.
    /// </summary>
    public static WorkerRuntime? Current => _current.Value;

    public int Slot { get; }

    public int Generation { get; }

    public string[] Args { get; }

    public TimeSpan GracefulTimeout { get; }

    public SharedEndpoints Endpoints { get; }

    public SocketConnectionContextFactory ConnectionFactory { get; }

    public ILogger Logger { get; }

    /// <summary>The coordinator's clock (the drain's timing, inside the worker too).</summary>
    public TimeProvider TimeProvider => _timeProvider;

    public IWorkerContext Context { get; }

    /// <summary>The coordinator's pool, resolvable as <see cref="IWorkerPool"/> inside the worker.</summary>
    public IWorkerPool Pool { get; }

    /// <summary>The coordinator's pipeline, which answers the requests for its paths (the app's scraping endpoint).</summary>
    public CoordinatorPipeline? Coordinator { get; init; }

    /// <summary>The coordinator's factory of the framework's meters, shared by every worker; none to keep the host's own.</summary>
    public System.Diagnostics.Metrics.IMeterFactory? SharedMeters { get; init; }

    /// <summary>Completes when the worker's host has started; faults if the worker ends first.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Completes when the worker's entry point has returned, with the exception it ended with, if any.</summary>
    public Task<Exception?> Exited => _exited.Task;

    public long RequestsServed => Interlocked.Read(ref _requestsServed);

    /// <summary>The requests this worker serves before it is replaced (MaxRequests plus its jitter); long.MaxValue for none.</summary>
    public long RequestLimit => Volatile.Read(ref _requestLimit);

    public int ActiveRequests => Volatile.Read(ref _activeRequests);

    public int OpenConnections => Volatile.Read(ref _openConnections);

    public int AwaitingFirstRequest => Volatile.Read(ref _awaitingFirstRequest);

    /// <summary>Makes this the ambient worker of the current flow (the worker's own thread).</summary>
    public void EnterOnCurrentThread() => _current.Value = this;

    /// <summary>Claims the first host built inside the worker: that is the host the worker runs.</summary>
    public bool TryClaimHost() => Interlocked.Exchange(ref _hostClaimed, 1) == 0;

    /// <summary>
    /// Called by the worker's agent as its host begins to start, with the means to stop the host within a given
    /// graceful timeout. A stop while the host is still starting cancels its start (the host links its start token
    /// to the application's stopping token).
    /// </summary>
    public void OnHostStarting(Action<TimeSpan> stopApplication)
    {
        // Full fences on both sides (here and in RequestStop): at least one of the two sees the other.
        Interlocked.Exchange(ref _stopApplication, stopApplication);

        // A stop asked for before the host began to start takes effect now.
        if (Volatile.Read(ref _stopRequested) == 1)
        {
            stopApplication(_stopServerTimeout);
        }
    }

    /// <summary>Called by the worker's agent once its host has started: the worker is ready.</summary>
    public void OnHostStarted() => _ready.TrySetResult();

    /// <summary>
    /// Replaces the worker once it has served <paramref name="limit"/> requests (MaxRequests plus jitter):
    /// <paramref name="onLimitReached"/> is called once, from the request that reaches it.
    /// </summary>
    public void SetRequestLimit(long limit, Action onLimitReached)
    {
        _onRequestLimitReached = onLimitReached;
        Volatile.Write(ref _requestLimit, limit);
    }

    /// <summary>
    /// Adds work to do once the worker's entry point has returned (its host stopped and disposed), before the coordinator
    /// learns that it exited: releasing what the host's framework components leave behind.
    /// </summary>
    public void OnEntryPointReturned(Action cleanup) => _afterEntryPoint += cleanup;

    public void OnExited(Exception? exception)
    {
        var cleanup = Interlocked.Exchange(ref _afterEntryPoint, null);
        try
        {
            cleanup?.Invoke();
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or System.Reflection.TargetInvocationException)
        {
            // What failed to be released is found, and reported, by unload verification.
        }

        _ready.TrySetException(exception ?? new InvalidOperationException(
            $"The entry point of worker {Slot} returned before its host started. Call app.Run() (or host.Run()) in Main."));
        _exited.TrySetResult(exception);
    }

    /// <summary>
    /// Asks the worker's host to stop; its server drains within <paramref name="serverTimeout"/>, what is left of the
    /// stop's <paramref name="gracefulTimeout"/> (the one reported if requests are cut).
    /// </summary>
    public void RequestStop(TimeSpan gracefulTimeout, TimeSpan serverTimeout)
    {
        _stopGracefulTimeout = gracefulTimeout;
        _stopServerTimeout = serverTimeout;
        Interlocked.Exchange(ref _stopRequested, 1);
        Volatile.Read(ref _stopApplication)?.Invoke(serverTimeout);
    }

    /// <summary>
    /// Ends the worker as if its app had stopped on its own (a crash, to the coordinator): its host stops, draining within
    /// the graceful timeout, without the coordinator having asked. Returns whether the host had started.
    /// </summary>
    public bool EndUnasked()
    {
        var stop = Volatile.Read(ref _stopApplication);
        stop?.Invoke(GracefulTimeout);
        return stop is not null;
    }

    /// <summary>Called when the graceful timeout of a stop has run out: the server aborts what is left.</summary>
    public void OnDrainDeadline()
    {
        var requests = ActiveRequests;
        var connections = OpenConnections;
        if (requests > 0 || connections > 0)
        {
            Log.DrainTimedOut(Logger, Slot, Generation, _stopGracefulTimeout, requests, connections);
            _metrics.RequestsAborted(requests);
        }
    }

    /// <summary>Drops every reference into the worker's load context so it can be unloaded.</summary>
    public void Detach()
    {
        Volatile.Write(ref _stopApplication, null);
        Volatile.Write(ref _afterEntryPoint, null);
        _onRequestLimitReached = null;
        _connections.Clear();
        lock (_listenersLock)
        {
            _listeners.Clear();
        }
    }

    public void AddListener(WorkerConnectionListener listener)
    {
        lock (_listenersLock)
        {
            _listeners.Add(listener);
            if (_listenersActive)
            {
                listener.Shared.Activate(listener);
            }
        }
    }

    public void RemoveListener(WorkerConnectionListener listener)
    {
        lock (_listenersLock)
        {
            _listeners.Remove(listener);
        }
    }

    /// <summary>Lets the coordinator hand connections to this worker, on every endpoint it listens on.</summary>
    public void ActivateListeners()
    {
        lock (_listenersLock)
        {
            _listenersActive = true;
            foreach (var listener in _listeners)
            {
                listener.Shared.Activate(listener);
            }
        }
    }

    /// <summary>Stops handing connections to this worker; connections queued for it go to other workers.</summary>
    public void DeactivateListeners()
    {
        WorkerConnectionListener[] listeners;
        lock (_listenersLock)
        {
            _listenersActive = false;
            listeners = [.. _listeners];
        }

        foreach (var listener in listeners)
        {
            listener.Shared.Deactivate(listener);
        }
    }

    /// <summary>
    /// Waits until every connection handed to this worker has been accepted by its server and has begun its first
    /// request (or closed), so that stopping the server does not close a connection whose request is in flight.
    /// </summary>
    public async Task<bool> WaitForHandoffsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = _timeProvider.GetTimestamp();
        while (AwaitingFirstRequest != 0)
        {
            if (_timeProvider.GetElapsedTime(started) >= timeout || cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(2), _timeProvider, CancellationToken.None).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>A connection was queued for this worker: it awaits its first request until the worker begins one on it.</summary>
    public void OnHandOff() => Interlocked.Increment(ref _awaitingFirstRequest);

    /// <summary>A queued connection was taken back (to go to another worker) before the worker accepted it.</summary>
    public void OnHandOffWithdrawn() => Interlocked.Decrement(ref _awaitingFirstRequest);

    /// <summary>The worker's server accepted a queued connection; its first request (or its close) ends the wait.</summary>
    public ConnectionTracker OnConnectionAccepted(Microsoft.AspNetCore.Connections.ConnectionContext? connection, System.Net.Sockets.Socket? socket)
    {
        Interlocked.Increment(ref _openConnections);
        var tracker = new ConnectionTracker(this, connection, socket, _timeProvider);
        _connections.TryAdd(tracker, 0);
        return tracker;
    }

    public void OnFirstRequestSeen() => Interlocked.Decrement(ref _awaitingFirstRequest);

    public void OnConnectionClosed(ConnectionTracker tracker)
    {
        if (_connections.TryRemove(tracker, out _))
        {
            Interlocked.Decrement(ref _openConnections);
            OnDrainingConnectionClosed();
        }
    }

    public void OnRequestStarted() => Interlocked.Increment(ref _activeRequests);

    public void OnRequestEnded()
    {
        Interlocked.Decrement(ref _activeRequests);
        if (Interlocked.Increment(ref _requestsServed) == Volatile.Read(ref _requestLimit))
        {
            _onRequestLimitReached?.Invoke();
        }
    }
}
