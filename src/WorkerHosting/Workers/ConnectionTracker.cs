using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace WorkerHosting.Workers;

/// <summary>
/// Follows one connection handed to a worker: whether its first request has begun, its requests in flight, when it was
/// last active, and when it closes. Kept in the connection's items so the request middleware
/// finds it without a lookup table of its own; the worker's runtime keeps the open ones for its drain.
/// </summary>
internal sealed class ConnectionTracker
{
    public static readonly object ItemKey = typeof(ConnectionTracker);

    private const int AwaitingFirstRequest = 0;
    private const int Serving = 1;
    private const int Closed = 2;

    private readonly WorkerRuntime _runtime;
    private readonly ConnectionContext? _connection;
    private readonly Socket? _socket;
    private readonly TimeProvider _timeProvider;
    private int _state;
    private int _inFlight;
    private long _lastActivity;
    private int _closeRequested;

    public ConnectionTracker(WorkerRuntime runtime, ConnectionContext? connection, Socket? socket, TimeProvider timeProvider)
    {
        _runtime = runtime;
        _connection = connection;
        _socket = socket;
        _timeProvider = timeProvider;
        _lastActivity = timeProvider.GetTimestamp();
    }

    /// <summary>
    /// A request has begun on the connection. While the worker drains (or the process's shutdown delay
    /// runs), the connection is asked to close. Returns
    /// <see langword="true"/> when the request must be held for <see cref="WorkerRuntime.DrainGoAwayHold"/> before it
    /// runs: it is the HTTP/2 request that asked its connection to close (see <see cref="RequestClose"/>).
    /// </summary>
    public bool OnRequest(bool http2, Microsoft.AspNetCore.Http.Features.IFeatureCollection features)
    {
        Interlocked.Increment(ref _inFlight);
        Volatile.Write(ref _lastActivity, _timeProvider.GetTimestamp());
        if (Volatile.Read(ref _state) == AwaitingFirstRequest &&
            Interlocked.CompareExchange(ref _state, Serving, AwaitingFirstRequest) == AwaitingFirstRequest)
        {
            _runtime.OnFirstRequestSeen();
        }

        // HTTP/1.x: this response carries Connection: close (Kestrel's own error responses too) and no further
        // request is read. HTTP/2: GOAWAY while this request's stream is open. Safe now: a request means the
        // connection is past its preface.
        // The feature is looked up only then: not on every request of a worker that serves.
        return _runtime.AsksClientsToLeave && RequestClose(features.Get<IConnectionLifetimeNotificationFeature>()) && http2;
    }

    public void OnRequestEnded()
    {
        Volatile.Write(ref _lastActivity, _timeProvider.GetTimestamp());
        Interlocked.Decrement(ref _inFlight);
    }

    public void OnClosed()
    {
        if (Interlocked.Exchange(ref _state, Closed) == AwaitingFirstRequest)
        {
            _runtime.OnFirstRequestSeen();
        }

        _runtime.OnConnectionClosed(this);
    }

    /// <summary>
    /// One step of the drain: asks the connection to close once no client can be racing the close, that is when no
    /// request is in flight, it has been idle for <paramref name="idleClose"/>, and no byte of a next request waits in
    /// its socket. A busy connection is asked to close by its next request instead (<see cref="OnRequest"/>), HTTP/2
    /// included: closing a busy HTTP/2 connection between two of its requests loses requests (see
    /// <see cref="RequestClose"/>).
    /// </summary>
    public void CloseIfQuiet(TimeSpan idleClose)
    {
        if (Volatile.Read(ref _closeRequested) == 1 || Volatile.Read(ref _state) == Closed)
        {
            return;
        }

        var now = _timeProvider.GetTimestamp();
        if (Volatile.Read(ref _inFlight) == 0 && _timeProvider.GetElapsedTime(Volatile.Read(ref _lastActivity), now) >= idleClose && !BytesWaiting())
        {
            RequestClose(null);
        }
    }

    private bool BytesWaiting()
    {
        try
        {
            return _socket is { } socket && socket.Available > 0;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Asks the connection to close, once. Kestrel answers on HTTP/2 by the number of streams open at that moment: with
    /// streams open it sends GOAWAY with the highest stream id (2^31-1) and, once they have finished, the final GOAWAY
    /// and the close; with none open it sends the final GOAWAY and closes at once. The second is safe only for a client
    /// that is not sending: SocketsHttpHandler moves a request it has not yet written to another connection only if the
    /// GOAWAY is read before the connection's end, so a request queued in the same instant fails with "The HTTP/2 server
    /// closed the connection". Hence an HTTP/2 connection is asked to close only from one of its requests (whose stream
    /// is open), or once it has been idle (<see cref="CloseIfQuiet"/>).
    /// </summary>
    private bool RequestClose(IConnectionLifetimeNotificationFeature? lifetime)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) == 0)
        {
            (lifetime ?? _connection?.Features.Get<IConnectionLifetimeNotificationFeature>())?.RequestClose();
            return true;
        }

        return false;
    }
}
