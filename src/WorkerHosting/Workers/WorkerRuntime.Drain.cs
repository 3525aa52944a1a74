namespace WorkerHosting.Workers;

internal sealed partial class WorkerRuntime
{
    /// <summary>How often the drain looks at the worker's connections.</summary>
    internal static readonly TimeSpan DrainSweepInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long a connection (HTTP/1.x or HTTP/2) must have been idle (no request in flight, none waiting in its socket)
    /// before a drain closes it: a client that sends its next request right after a response is never idle that long, and
    /// one that waits longer is past the moment it could race the close in the same round trip.
    /// </summary>
    internal static readonly TimeSpan DrainIdleClose = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long the HTTP/2 request that asks its connection to close is held before it runs, so that its stream is still
    /// open when Kestrel's connection loop acts on the close: Kestrel then sends GOAWAY with the highest stream id first,
    /// the client stops opening streams on the connection, and the final GOAWAY and the close come only once the streams
    /// under way have finished (see <see cref="ConnectionTracker"/>). The loop acts on its next turn on the thread pool;
    /// this bounds the wait for that turn, paid by one request per connection and only while the worker drains.
    /// </summary>
    internal static readonly TimeSpan DrainGoAwayHold = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest the drain asks clients to leave before the worker's server stops.</summary>
    internal static readonly TimeSpan DrainWindow = TimeSpan.FromSeconds(10);

    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _draining;

    /// <summary>Whether the worker is draining: every connection is asked to close (see <see cref="DrainConnectionsAsync"/>).</summary>
    public bool Draining => Volatile.Read(ref _draining) == 1;

    /// <summary>
    /// Whether a request asks its connection to close: while the worker drains, and while the process's shutdown delay
    /// runs (the process still serves, but its clients should move before it drains).
    /// </summary>
    public bool AsksClientsToLeave => Draining || _shutdown.ClientsAskedToLeave;

    /// <summary>
    /// Asks the worker's clients to leave before its server stops: every HTTP/1.x response from now on carries
    /// <c>Connection: close</c>, every HTTP/2 connection gets GOAWAY from its next request (its streams under way finish),
    /// and a connection idle for <see cref="DrainIdleClose"/> with nothing waiting in its socket is closed. Returns when no
    /// connection is left, or after <paramref name="window"/>; what is left then is the server's to drain.
    /// </summary>
    public async Task DrainConnectionsAsync(TimeSpan window)
    {
        Volatile.Write(ref _draining, 1);
        var started = _timeProvider.GetTimestamp();
        while (!_connections.IsEmpty && _timeProvider.GetElapsedTime(started) < window)
        {
            foreach (var connection in _connections.Keys)
            {
                connection.CloseIfQuiet(DrainIdleClose);
            }

            var remaining = window - _timeProvider.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero || _connections.IsEmpty)
            {
                break;
            }

            // The next sweep, or at once when the last connection closes.
            using var sweep = new CancellationTokenSource();
            var delay = Task.Delay(remaining < DrainSweepInterval ? remaining : DrainSweepInterval, _timeProvider, sweep.Token);
            await Task.WhenAny(delay, _drained.Task).ConfigureAwait(false);
            await sweep.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A connection of a draining worker closed: the drain ends when it was the last.</summary>
    private void OnDrainingConnectionClosed()
    {
        if (Draining && _connections.IsEmpty)
        {
            _drained.TrySetResult();
        }
    }
}
