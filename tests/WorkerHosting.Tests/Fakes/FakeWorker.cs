using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Fakes;

/// <summary>
/// A worker the test drives: it becomes ready, fails, crashes or exits when the test says so (or at once, as its factory
/// is set up to), and records what the control loop asked of it.
/// </summary>
internal sealed class FakeWorker(int slot, int generation, WorkersOptions options, Action<IWorkerHandle> onRequestLimitReached, FakeWorkerFactory factory) : IWorkerHandle
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Exception?> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopAsked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopRequested;

    public int Slot { get; } = slot;

    public int Generation { get; } = generation;

    /// <summary>The options the worker was created with.</summary>
    public WorkersOptions Options { get; } = options;

    public DateTimeOffset StartedAt { get; private set; }

    public long RequestsServed { get; set; }

    public long RequestLimit { get; set; } = long.MaxValue;

    public bool StopRequested => Volatile.Read(ref _stopRequested) == 1;

    public bool ExitPlanned { get; private set; }

    public Task Ready => _ready.Task;

    public Task<Exception?> Exited => _exited.Task;

    public bool Started { get; private set; }

    public bool Active { get; private set; }

    public bool Unloaded { get; private set; }

    /// <summary>Whether it ends when asked to stop (false: it ignores its stop, as app code that hangs does).</summary>
    public bool ExitsWhenStopped { get; set; } = true;

    /// <summary>The graceful timeout the stop gave it, and whether it was told to send its connections elsewhere.</summary>
    public (TimeSpan GracefulTimeout, bool Redirect)? Stop { get; private set; }

    /// <summary>Completes when the worker is asked to stop.</summary>
    public Task StopAsked => _stopAsked.Task;

    public void Start()
    {
        Started = true;
        StartedAt = DateTimeOffset.UnixEpoch;
        factory.OnStarted(this);
    }

    public void Activate() => Active = true;

    public Task StopAsync(bool redirectConnections, TimeSpan gracefulTimeout)
    {
        Interlocked.Exchange(ref _stopRequested, 1);
        Stop = (gracefulTimeout, redirectConnections);
        if (redirectConnections)
        {
            Active = false;
        }

        _stopAsked.TrySetResult();
        if (ExitsWhenStopped)
        {
            Exit();
        }

        return Task.CompletedTask;
    }

    public UnloadingWorker? Unload()
    {
        Active = false;
        Unloaded = true;
        return UnloadResult;
    }

    public UnloadingWorker? GiveUp(TimeSpan waited)
    {
        GivenUp = true;
        return GiveUpResult;
    }

    /// <summary>What <see cref="Unload"/> hands the pool to verify (null: nothing to verify).</summary>
    public UnloadingWorker? UnloadResult { get; set; }

    /// <summary>What <see cref="GiveUp"/> hands the pool to report as kept in memory (null: nothing).</summary>
    public UnloadingWorker? GiveUpResult { get; set; }

    /// <summary>Whether the pool gave up on it (it did not exit in time).</summary>
    public bool GivenUp { get; private set; }

    public void BecomeReady() => _ready.TrySetResult();

    /// <summary>Fails before it is ready: its app threw at start.</summary>
    public void FailToStart(Exception exception)
    {
        _ready.TrySetException(exception);
        End(exception);
    }

    /// <summary>Ends on its own (after it was ready: a crash).</summary>
    public void Crash(Exception? exception = null)
    {
        _ready.TrySetException(exception ?? new InvalidOperationException("ended"));
        End(exception);
    }

    /// <summary>Ends (the way a stopped worker does).</summary>
    public void Exit()
    {
        _ready.TrySetException(new InvalidOperationException("exited"));
        End(null);
    }

    private void End(Exception? exception)
    {
        if (!_exited.Task.IsCompleted)
        {
            ExitPlanned = StopRequested;
        }

        _exited.TrySetResult(exception);
    }

    /// <summary>A request of the worker has reached its MaxRequests.</summary>
    public void ReachRequestLimit() => onRequestLimitReached(this);
}
