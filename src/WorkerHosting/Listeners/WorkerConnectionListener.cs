using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using WorkerHosting.Workers;

namespace WorkerHosting.Listeners;

/// <summary>
/// A worker's view of one shared endpoint: a queue of connections the coordinator handed to this worker.
/// </summary>
internal sealed class WorkerConnectionListener : IConnectionListener
{
    private readonly Channel<Socket> _queue = Channel.CreateUnbounded<Socket>(new UnboundedChannelOptions
    {
        SingleReader = false,
        SingleWriter = false,
    });

    private readonly WorkerRuntime _runtime;

    public WorkerConnectionListener(SharedListener shared, WorkerRuntime runtime)
    {
        Shared = shared;
        _runtime = runtime;
    }

    public SharedListener Shared { get; }

    public EndPoint EndPoint => Shared.LocalEndPoint;

    public int QueuedCount => _queue.Reader.Count;

    /// <summary>
    /// Queues a connection for this worker. It counts as awaiting its first request from this moment (counted before
    /// it is queued, so the worker's server can never serve it before it is counted).
    /// </summary>
    public bool TryHandOff(Socket socket)
    {
        _runtime.OnHandOff();
        if (_queue.Writer.TryWrite(socket))
        {
            return true;
        }

        _runtime.OnHandOffWithdrawn();
        return false;
    }

    /// <summary>Takes back a connection the worker's server has not accepted yet, to give it to another worker.</summary>
    public bool TryTakeQueued([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Socket? socket)
    {
        if (_queue.Reader.TryRead(out socket))
        {
            _runtime.OnHandOffWithdrawn();
            return true;
        }

        return false;
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_queue.Reader.TryRead(out var socket))
            {
                return CreateConnection(socket);
            }

            if (!await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _runtime.RemoveListener(this);
        Shared.Deactivate(this);
        _queue.Writer.TryComplete();

        // Anything that raced in before the queue closed goes to another worker.
        while (TryTakeQueued(out var socket))
        {
            Shared.Dispatch(socket);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => UnbindAsync();

    private ConnectionContext CreateConnection(Socket socket)
    {
        if (socket.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
        {
            // As Kestrel's socket transport does, on TCP connections only (SocketTransportOptions.NoDelay).
            socket.NoDelay = Shared.Settings.NoDelay;
        }

        var connection = _runtime.ConnectionFactory.Create(socket);
        var tracker = _runtime.OnConnectionAccepted(connection, socket);
        connection.Items[ConnectionTracker.ItemKey] = tracker;
        connection.ConnectionClosed.UnsafeRegister(static state => ((ConnectionTracker)state!).OnClosed(), tracker);
        return connection;
    }
}
