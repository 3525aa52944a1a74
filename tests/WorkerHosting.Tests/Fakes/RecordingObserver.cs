namespace WorkerHosting.Tests.Fakes;

/// <summary>
/// An app's lifecycle observer that records every call, in order, as a short line ("Booting 0/1", "Exited 0/1 Reload"),
/// lets a test wait for a line, and can be told to throw or hang on the calls the test picks.
/// </summary>
internal sealed class RecordingObserver : IWorkerLifecycleObserver
{
    private readonly Lock _lock = new();
    private readonly List<string> _events = [];
    private readonly List<(string Event, TaskCompletionSource Seen)> _waiters = [];

    /// <summary>The calls so far, in order.</summary>
    public IReadOnlyList<string> Events
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Runs after each call is recorded, with the call's line and token: a test makes it throw or hang.</summary>
    public Func<string, CancellationToken, Task>? OnEvent { get; set; }

    /// <summary>Waits until a call with this line has been recorded.</summary>
    public Task WaitForAsync(string line)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_events.Contains(line))
            {
                return Task.CompletedTask;
            }

            _waiters.Add((line, seen));
        }

        return seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public Task OnPoolStartingAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => RecordAsync($"PoolStarting {poolEvent.Count}", cancellationToken);

    public Task OnPoolReadyAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => RecordAsync($"PoolReady {poolEvent.ReadyCount}/{poolEvent.Count}", cancellationToken);

    public Task OnWorkerBootingAsync(WorkerEvent workerEvent, CancellationToken cancellationToken)
        => RecordAsync($"Booting {workerEvent.Slot}/{workerEvent.Generation}", cancellationToken);

    public Task OnWorkerReadyAsync(WorkerEvent workerEvent, CancellationToken cancellationToken)
        => RecordAsync($"Ready {workerEvent.Slot}/{workerEvent.Generation}", cancellationToken);

    public Task OnWorkerExitedAsync(WorkerExitedEvent exitedEvent, CancellationToken cancellationToken)
        => RecordAsync(
            $"Exited {exitedEvent.Slot}/{exitedEvent.Generation} {exitedEvent.Reason}{(exitedEvent.GivenUp ? " given up" : "")}{(exitedEvent.Exception is { } e ? $" ({e.Message})" : "")}",
            cancellationToken);

    public Task OnReloadStartingAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => RecordAsync($"ReloadStarting {poolEvent.Count}", cancellationToken);

    public Task OnReloadEndedAsync(WorkerReloadResult result, CancellationToken cancellationToken)
        => RecordAsync($"ReloadEnded {(result.Succeeded ? "succeeded" : "failed")} {result.Replaced}", cancellationToken);

    public Task OnCountChangedAsync(WorkerCountChangedEvent countEvent, CancellationToken cancellationToken)
        => RecordAsync($"CountChanged {countEvent.PreviousCount}->{countEvent.Count}", cancellationToken);

    public Task OnPoolStoppingAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => RecordAsync($"PoolStopping {poolEvent.ReadyCount}/{poolEvent.Count}", cancellationToken);

    public Task OnPoolStoppedAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken)
        => RecordAsync("PoolStopped", cancellationToken);

    private Task RecordAsync(string line, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _events.Add(line);
            foreach (var waiter in _waiters.Where(w => w.Event == line).ToArray())
            {
                waiter.Seen.TrySetResult();
                _waiters.Remove(waiter);
            }
        }

        return OnEvent?.Invoke(line, cancellationToken) ?? Task.CompletedTask;
    }
}
