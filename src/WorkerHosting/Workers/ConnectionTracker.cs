using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace WorkerHosting.Workers;

/// <summary>
/// Follows one connection handed to a worker: whether its first request has begun, its requests in flight, when it was
/// last active, which protocol it speaks, and when it closes. Kept in the connection's items so the request middleware
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
    private readonly long _openedAt;
    private int _state;
    private int _inFlight;
    private long _lastActivity;
    private int _http2;
    private int _closeRequested;

    public ConnectionTracker(WorkerRuntime runtime, ConnectionContext? connection, Socket? socket, TimeProvider timeProvider)
    {
        _runtime = runtime;
        _connection = connection;
        _socket = socket;
        _timeProvider = timeProvider;
        _openedAt = _lastActivity = timeProvider.GetTimestamp();
    }

    /// <summary>
    /// A request has begun on the connection. While the worker drains (or the process's shutdown delay runs), the
    /// connection is asked to close.
    /// </summary>
    public void OnRequest(bool http2, Microsoft.AspNetCore.Http.Features.IFeatureCollection features)
    {
        Interlocked.Increment(ref _inFlight);
        Volatile.Write(ref _lastActivity, _timeProvider.GetTimestamp());
        if (http2)
        {
            Volatile.Write(ref _http2, 1);
        }

        if (Volatile.Read(ref _state) == AwaitingFirstRequest &&
            Interlocked.CompareExchange(ref _state, Serving, AwaitingFirstRequest) == AwaitingFirstRequest)
        {
            _runtime.OnFirstRequestSeen();
        }

        if (_runtime.AsksClientsToLeave)
        {
            // HTTP/1.x: this response carries Connection: close (Kestrel's own error responses too) and no further
            // request is read; HTTP/2: GOAWAY, the streams under way finish. Safe now: a request means the connection
            // is past its preface.
            // The feature is looked up only then: not on every request of a worker that serves.
            RequestClose(features.Get<IConnectionLifetimeNotificationFeature>());
        }
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
    /// One step of the drain: asks the connection to close once no client can be racing the close. HTTP/2 (a request seen,
    /// or open for <paramref name="minimumAge"/>, so past its preface): GOAWAY at once. HTTP/1.x: only when no request is in
    /// flight, it has been idle for <paramref name="idleClose"/>, and no byte of a next request waits in the socket; a busy
    /// HTTP/1.x connection is closed by its next response instead (<see cref="OnRequest"/>).
    /// </summary>
    public void CloseIfQuiet(TimeSpan idleClose, TimeSpan minimumAge)
    {
        if (Volatile.Read(ref _closeRequested) == 1 || Volatile.Read(ref _state) == Closed)
        {
            return;
        }

        var now = _timeProvider.GetTimestamp();
        if (Volatile.Read(ref _http2) == 1)
        {
            if (Volatile.Read(ref _state) == Serving || _timeProvider.GetElapsedTime(_openedAt, now) >= minimumAge)
            {
                RequestClose(null);
            }

            return;
        }

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

    private void RequestClose(IConnectionLifetimeNotificationFeature? lifetime)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) == 0)
        {
            (lifetime ?? _connection?.Features.Get<IConnectionLifetimeNotificationFeature>())?.RequestClose();
        }
    }
}
