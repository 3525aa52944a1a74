using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using WorkerHosting.Diagnostics;
using WorkerHosting.Listeners;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Listeners;

/// <summary>
/// Shared endpoints on real loopback sockets, worker listeners on them, and clients that connect to them; it
/// closes every socket it made or was handed.
/// </summary>
internal sealed class LoopbackHarness : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Instruments no test reads here: one meter for every runtime the harnesses make.</summary>
    private static readonly WorkersMetrics _metrics =
        new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());

    private readonly List<Socket> _sockets = [];
    private readonly List<WorkerConnectionListener> _listeners = [];

    /// <param name="transport">The app's socket options; Kestrel's defaults when not given.</param>
    public LoopbackHarness(SocketTransportOptions? transport = null)
    {
        Endpoints = new(CreateSettings(transport), NullLogger<SharedEndpoints>.Instance, TimeProvider.System);
    }

    public SharedEndpoints Endpoints { get; }

    public SocketConnectionContextFactory ConnectionFactory { get; } = new(new SocketConnectionFactoryOptions(), NullLogger.Instance);

    public static IPEndPoint AnyLoopbackPort => new(IPAddress.Loopback, 0);

    public static SocketTransportSettings CreateSettings(SocketTransportOptions? transport = null)
        => new(Options.Create(transport ?? new SocketTransportOptions()));

    public WorkerRuntime CreateRuntime(int slot = 0)
        => new(slot, 1, [], TimeSpan.FromSeconds(30), Endpoints, ConnectionFactory, NullLogger.Instance, TimeProvider.System, new Fakes.FakeWorkerPool(), _metrics, new WorkerHosting.Coordinator.ShutdownState());

    public WorkerConnectionListener CreateListener(SharedListener shared, int slot = 0)
    {
        var listener = new WorkerConnectionListener(shared, CreateRuntime(slot));
        _listeners.Add(listener);
        return listener;
    }

    /// <summary>
    /// Connects to <paramref name="endpoint"/> and sends a byte at once: the shared socket defers accepting a
    /// connection until its first bytes arrive (TCP_DEFER_ACCEPT on Linux).
    /// </summary>
    public async Task<Socket> ConnectAsync(EndPoint endpoint)
    {
        var client = Track(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await client.ConnectAsync(endpoint).WaitAsync(Timeout);
        await client.SendAsync(new byte[] { 1 }).WaitAsync(Timeout);
        return client;
    }

    /// <summary>Makes a connected pair of sockets outside any shared endpoint; returns the server's end.</summary>
    public async Task<(Socket Server, Socket Client)> CreateConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(AnyLoopbackPort);
        listener.Listen(1);
        var client = Track(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!).WaitAsync(Timeout);
        var server = Track(await accept.WaitAsync(Timeout));
        return (server, client);
    }

    public Socket Track(Socket socket)
    {
        lock (_sockets)
        {
            _sockets.Add(socket);
        }

        return socket;
    }

    /// <summary>Waits, polling, until <paramref name="condition"/> holds; fails the test after <see cref="Timeout"/>.</summary>
    /// <remarks>
    /// Polls because no signal exists: the conditions are the listeners' queue lengths, and a
    /// <see cref="WorkerConnectionListener"/> tells no one when the shared listener queues a connection (AcceptAsync
    /// would, but it takes the connection off the queue these tests count).
    /// </remarks>
    public static async Task WaitUntilAsync(Func<bool> condition, string description)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            if (stopwatch.Elapsed > Timeout)
            {
                Assert.Fail($"Timed out after {Timeout} waiting until {description}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
        }
    }

    public void Dispose()
    {
        Endpoints.Dispose();

        foreach (var listener in _listeners)
        {
            while (listener.TryTakeQueued(out var socket))
            {
                socket.Dispose();
            }
        }

        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        ConnectionFactory.Dispose();
    }
}
