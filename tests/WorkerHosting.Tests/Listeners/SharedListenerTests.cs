using System.Net;
using System.Net.Sockets;
using WorkerHosting.Listeners;

namespace WorkerHosting.Tests.Listeners;

public class SharedListenerTests
{
    [Fact]
    public async Task Dispatch_TwoActiveListeners_HandsConnectionsOutRoundRobin()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var first = harness.CreateListener(shared, slot: 0);
        var second = harness.CreateListener(shared, slot: 1);
        shared.Activate(first);
        shared.Activate(second);
        harness.Endpoints.StartAccepting();

        var receivers = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var (before0, before1) = (first.QueuedCount, second.QueuedCount);
            await harness.ConnectAsync(shared.LocalEndPoint);
            var expectedTotal = i + 1;
            await LoopbackHarness.WaitUntilAsync(() => first.QueuedCount + second.QueuedCount == expectedTotal, $"connection {expectedTotal} was handed out");
            receivers.Add(first.QueuedCount > before0 ? "first" : second.QueuedCount > before1 ? "second" : "none");
        }

        Assert.Equal(["first", "second", "first", "second", "first", "second"], receivers);
        Assert.Equal(3, first.QueuedCount);
        Assert.Equal(3, second.QueuedCount);
    }

    [Fact]
    public async Task Dispatch_ManyConnectionsAtOnce_SplitsThemEvenly()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var first = harness.CreateListener(shared, slot: 0);
        var second = harness.CreateListener(shared, slot: 1);
        shared.Activate(first);
        shared.Activate(second);
        shared.StartAccepting();

        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => harness.ConnectAsync(shared.LocalEndPoint)));

        await LoopbackHarness.WaitUntilAsync(() => first.QueuedCount + second.QueuedCount == 10, "all 10 connections were handed out");
        Assert.Equal(5, first.QueuedCount);
        Assert.Equal(5, second.QueuedCount);
    }

    [Fact]
    public async Task AcceptAsync_ConnectionHandedOff_ReturnsConnectionFromThatClient()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var runtime = harness.CreateRuntime();
        var listener = new WorkerConnectionListener(shared, runtime);
        shared.Activate(listener);
        shared.StartAccepting();

        var client = await harness.ConnectAsync(shared.LocalEndPoint);
        var connection = await listener.AcceptAsync().AsTask().WaitAsync(LoopbackHarness.Timeout);

        Assert.NotNull(connection);
        await using (connection)
        {
            Assert.Equal(client.LocalEndPoint, connection.RemoteEndPoint);
            Assert.Equal(shared.LocalEndPoint, connection.LocalEndPoint);
            Assert.Equal(1, runtime.OpenConnections);
            Assert.Equal(1, runtime.AwaitingFirstRequest);
        }
    }

    [Fact]
    public async Task Activate_ConnectionArrivedWhileNoListenerActive_HandsItToNextActivatedListener()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var first = harness.CreateListener(shared, slot: 0);
        var second = harness.CreateListener(shared, slot: 1);
        shared.Activate(first);
        shared.StartAccepting();
        await harness.ConnectAsync(shared.LocalEndPoint);
        await LoopbackHarness.WaitUntilAsync(() => first.QueuedCount == 1, "the first connection reached the first listener");

        // With no other listener active, what was queued for the first listener is parked.
        shared.Deactivate(first);
        Assert.Equal(0, first.QueuedCount);
        Assert.Equal(0, shared.ActiveWorkers);

        await harness.ConnectAsync(shared.LocalEndPoint);
        shared.Activate(second);

        await LoopbackHarness.WaitUntilAsync(() => second.QueuedCount == 2, "both connections reached the second listener");
        Assert.Equal(0, first.QueuedCount);
    }

    [Fact]
    public async Task Activate_ParkedConnection_HandsItToActivatedListener()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var listener = harness.CreateListener(shared);
        var (server, _) = await harness.CreateConnectedPairAsync();

        shared.Dispatch(server);
        Assert.Equal(0, listener.QueuedCount);

        shared.Activate(listener);

        Assert.True(listener.TryTakeQueued(out var handedOff));
        Assert.Same(server, handedOff);
    }

    [Fact]
    public async Task Activate_SameListenerTwice_ActivatesItOnce()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var first = harness.CreateListener(shared, slot: 0);
        var second = harness.CreateListener(shared, slot: 1);

        shared.Activate(first);
        shared.Activate(first);
        shared.Activate(second);

        Assert.Equal(2, shared.ActiveWorkers);
        var (server1, _) = await harness.CreateConnectedPairAsync();
        var (server2, _) = await harness.CreateConnectedPairAsync();
        shared.Dispatch(server1);
        shared.Dispatch(server2);
        Assert.Equal(1, first.QueuedCount);
        Assert.Equal(1, second.QueuedCount);
    }

    [Fact]
    public async Task Deactivate_ListenerWithQueuedConnections_MovesThemToAnotherActiveListener()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var first = harness.CreateListener(shared, slot: 0);
        var second = harness.CreateListener(shared, slot: 1);
        shared.Activate(first);
        shared.StartAccepting();
        await harness.ConnectAsync(shared.LocalEndPoint);
        await harness.ConnectAsync(shared.LocalEndPoint);
        await LoopbackHarness.WaitUntilAsync(() => first.QueuedCount == 2, "both connections reached the first listener");
        shared.Activate(second);

        shared.Deactivate(first);

        Assert.Equal(0, first.QueuedCount);
        Assert.Equal(2, second.QueuedCount);
        Assert.Equal(1, shared.ActiveWorkers);
    }

    [Fact]
    public async Task Deactivate_ListenerDeactivated_GetsNoNewConnections()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var first = harness.CreateListener(shared, slot: 0);
        var second = harness.CreateListener(shared, slot: 1);
        shared.Activate(first);
        shared.Activate(second);
        shared.Deactivate(first);
        shared.StartAccepting();

        for (var i = 0; i < 3; i++)
        {
            await harness.ConnectAsync(shared.LocalEndPoint);
        }

        await LoopbackHarness.WaitUntilAsync(() => second.QueuedCount == 3, "all connections reached the second listener");
        Assert.Equal(0, first.QueuedCount);
    }

    [Fact]
    public async Task StopAcceptingAsync_AfterStop_RefusesNewConnections()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var listener = harness.CreateListener(shared);
        shared.Activate(listener);
        harness.Endpoints.StartAccepting();
        await harness.ConnectAsync(shared.LocalEndPoint);
        await LoopbackHarness.WaitUntilAsync(() => listener.QueuedCount == 1, "the connection was handed out");

        await harness.Endpoints.StopAcceptingAsync().WaitAsync(LoopbackHarness.Timeout);

        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var exception = await Assert.ThrowsAsync<SocketException>(() => late.ConnectAsync(shared.LocalEndPoint).WaitAsync(LoopbackHarness.Timeout));
        Assert.Equal(SocketError.ConnectionRefused, exception.SocketErrorCode);
        Assert.Equal(1, listener.QueuedCount);
    }

    [Fact]
    public async Task StopAcceptingAsync_NeverStarted_CompletesAndRefusesNewConnections()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);

        await shared.StopAcceptingAsync().WaitAsync(LoopbackHarness.Timeout);
        await shared.StopAcceptingAsync().WaitAsync(LoopbackHarness.Timeout);

        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var exception = await Assert.ThrowsAsync<SocketException>(() => late.ConnectAsync(shared.LocalEndPoint).WaitAsync(LoopbackHarness.Timeout));
        Assert.Equal(SocketError.ConnectionRefused, exception.SocketErrorCode);
    }

    [Fact]
    public async Task Activate_ConnectionWaitingBeforeAnyListenerActive_HandsItToFirstActivated()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var listener = harness.CreateListener(shared);
        shared.StartAccepting();

        await harness.ConnectAsync(shared.LocalEndPoint);
        shared.Activate(listener);

        await LoopbackHarness.WaitUntilAsync(() => listener.QueuedCount == 1, "the waiting connection reached the listener once it was activated");
    }

    [Fact]
    public void Dispose_CalledTwice_DoesNotThrow()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);

        shared.Dispose();
        shared.Dispose();

        Assert.Equal(0, shared.ActiveWorkers);
    }

    [Fact]
    public async Task Dispose_ParkedConnection_ClosesIt()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var (server, client) = await harness.CreateConnectedPairAsync();
        shared.Dispatch(server);

        harness.Endpoints.Dispose();

        var buffer = new byte[1];
        int received;
        try
        {
            received = await client.ReceiveAsync(buffer).WaitAsync(LoopbackHarness.Timeout);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            received = 0;
        }

        Assert.Equal(0, received);
    }
}
