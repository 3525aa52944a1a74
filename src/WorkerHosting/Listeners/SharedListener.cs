using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Listeners;

/// <summary>
/// One listening socket that the coordinator owns for the life of the process. It accepts connections and hands
/// each to one of the workers listening on it, in turn. A worker that stops never closes this socket, so no
/// connection waiting in its accept queue is reset because of it.
/// </summary>
internal sealed partial class SharedListener : IDisposable
{
    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private readonly Queue<Socket> _parked = new();
    private readonly CancellationTokenSource _stopAccepting = new();

    private WorkerConnectionListener[] _active = [];
    private TaskCompletionSource _workerAvailable = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private uint _next;
    private Task _acceptLoop = Task.CompletedTask;
    private bool _started;
    private bool _closed;
    private bool _disposed;

    public SharedListener(EndPoint requestedEndPoint, Socket socket, SocketTransportSettings settings, ILogger logger, TimeProvider timeProvider)
    {
        RequestedEndPoint = requestedEndPoint;
        _socket = socket;
        Settings = settings;
        _logger = logger;
        _timeProvider = timeProvider;
        LocalEndPoint = socket.LocalEndPoint ?? requestedEndPoint;
    }

    /// <summary>The endpoint the app asked for (port 0 included).</summary>
    public EndPoint RequestedEndPoint { get; }

    /// <summary>The endpoint the socket is bound to (port 0 resolved once, for every worker).</summary>
    public EndPoint LocalEndPoint { get; }

    /// <summary>The listening socket (a hot upgrade passes it to the next process).</summary>
    public Socket Socket => _socket;

    /// <summary>The app's socket settings, which the workers' listeners apply to the connections they accept.</summary>
    public SocketTransportSettings Settings { get; }

    public int ActiveWorkers
    {
        get
        {
            lock (_lock)
            {
                return _active.Length;
            }
        }
    }

    public void StartAccepting()
    {
        lock (_lock)
        {
            if (_started || _closed)
            {
                return;
            }

            _started = true;
        }

        _acceptLoop = AcceptLoopAsync(_stopAccepting.Token);
    }

    /// <summary>
    /// Stops accepting: connections already in the accept queue are accepted and handed to workers first, then the
    /// socket is closed, so a client connecting from now on is refused rather than left waiting.
    /// </summary>
    /// <param name="leaveQueued">
    /// A hot upgrade handed the socket to the next process: leave the connections in the queue to it, and close only this
    /// process's descriptor (the socket stays open, listening, in the next process).
    /// </param>
    public async Task StopAcceptingAsync(bool leaveQueued = false)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
        }

        await _stopAccepting.CancelAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);

        try
        {
            while (!leaveQueued && _socket.Poll(0, SelectMode.SelectRead))
            {
                Dispatch(_socket.Accept());
            }
        }
        catch (SocketException)
        {
            // The queue is empty or the socket is gone: nothing left to hand off.
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Dispose();
    }

    public void Activate(WorkerConnectionListener listener)
    {
        lock (_lock)
        {
            if (Array.IndexOf(_active, listener) >= 0)
            {
                return;
            }

            _active = [.. _active, listener];
            while (_parked.TryDequeue(out var socket))
            {
                if (!listener.TryHandOff(socket))
                {
                    _parked.Enqueue(socket);
                    break;
                }
            }

            _workerAvailable.TrySetResult();
        }
    }

    public void Deactivate(WorkerConnectionListener listener)
    {
        lock (_lock)
        {
            var index = Array.IndexOf(_active, listener);
            if (index >= 0)
            {
                _active = [.. _active.AsSpan(0, index), .. _active.AsSpan(index + 1)];
                if (_active.Length == 0)
                {
                    _workerAvailable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
        }

        // What was queued for this worker but not yet accepted by its server goes to another worker.
        while (listener.TryTakeQueued(out var socket))
        {
            Dispatch(socket);
        }
    }

    public void Dispatch(Socket socket)
    {
        lock (_lock)
        {
            var active = _active;
            for (var i = 0; i < active.Length; i++)
            {
                var candidate = active[_next++ % (uint)active.Length];
                if (candidate.TryHandOff(socket))
                {
                    return;
                }
            }

            // No worker takes connections right now (all starting or stopping): hold it until one does.
            _parked.Enqueue(socket);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _stopAccepting.Cancel();
        _socket.Dispose();

        int rejected;
        lock (_lock)
        {
            _closed = true;
            rejected = _parked.Count;
            while (_parked.TryDequeue(out var socket))
            {
                socket.Dispose();
            }
        }

        if (rejected > 0)
        {
            Log.ConnectionsRejected(_logger, rejected, LocalEndPoint);
        }

        _stopAccepting.Dispose();
    }

    private async Task AcceptLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                Task workerAvailable;
                lock (_lock)
                {
                    workerAvailable = _workerAvailable.Task;
                }

                // While no worker takes connections, leave them in the kernel's accept queue.
                await workerAvailable.WaitAsync(cancellationToken).ConfigureAwait(false);

                var socket = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                Dispatch(socket);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Interrupted)
            {
                // The client gave up before we accepted it.
            }
            catch (SocketException e)
            {
                // Out of file descriptors or similar: say so, and try again shortly rather than spin.
                Log.AcceptFailed(_logger, LocalEndPoint, e);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), _timeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.AcceptFailed, LogLevel.Error,
            "Accepting a connection on {EndPoint} failed; retrying.", EventName = "AcceptFailed")]
        public static partial void AcceptFailed(ILogger logger, EndPoint endPoint, Exception exception);

        [LoggerMessage(WorkersEventIds.ConnectionsRejected, LogLevel.Warning,
            "Closed {Count} connections on {EndPoint} that no worker was left to serve.", EventName = "ConnectionsRejected")]
        public static partial void ConnectionsRejected(ILogger logger, int count, EndPoint endPoint);
    }
}
