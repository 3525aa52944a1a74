using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using WorkerHosting.Listeners;

namespace WorkerHosting.Tests.Listeners;

public class WorkerConnectionListenerTests
{
    [Fact]
    public void EndPoint_Always_IsSharedListenersResolvedEndpoint()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);

        var listener = harness.CreateListener(shared);

        Assert.Equal(shared.LocalEndPoint, listener.EndPoint);
        Assert.Same(shared, listener.Shared);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AcceptAsync_SocketTransportNoDelay_AppliesItToTheAcceptedSocket(bool noDelay)
    {
        using var harness = new LoopbackHarness(new SocketTransportOptions { NoDelay = noDelay });
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var listener = harness.CreateListener(shared);
        shared.Activate(listener);
        var (server, _) = await harness.CreateConnectedPairAsync();
        server.NoDelay = !noDelay;
        shared.Dispatch(server);

        var connection = await listener.AcceptAsync().AsTask().WaitAsync(LoopbackHarness.Timeout);

        Assert.NotNull(connection);
        Assert.Equal(noDelay, server.NoDelay);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task UnbindAsync_QueuedConnections_GoToAnotherActiveListener()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var leaving = harness.CreateListener(shared, slot: 0);
        var staying = harness.CreateListener(shared, slot: 1);
        var (server, _) = await harness.CreateConnectedPairAsync();
        shared.Activate(leaving);
        shared.Dispatch(server);
        shared.Activate(staying);
        Assert.Equal(1, leaving.QueuedCount);

        await leaving.UnbindAsync();

        Assert.Equal(0, leaving.QueuedCount);
        Assert.True(staying.TryTakeQueued(out var moved));
        Assert.Same(server, moved);
        Assert.Equal(1, shared.ActiveWorkers);
    }

    [Fact]
    public async Task AcceptAsync_AfterUnbind_ReturnsNull()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var listener = harness.CreateListener(shared);
        shared.Activate(listener);

        await listener.UnbindAsync();
        var connection = await listener.AcceptAsync().AsTask().WaitAsync(LoopbackHarness.Timeout);

        Assert.Null(connection);
        Assert.False(listener.TryHandOff(null!));
    }

    [Fact]
    public async Task AcceptAsync_PendingWhenUnbound_ReturnsNull()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var listener = harness.CreateListener(shared);
        shared.Activate(listener);
        var accept = listener.AcceptAsync().AsTask();
        Assert.False(accept.IsCompleted);

        await listener.UnbindAsync();

        Assert.Null(await accept.WaitAsync(LoopbackHarness.Timeout));
    }

    [Fact]
    public async Task AcceptAsync_Canceled_ThrowsOperationCanceledException()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var listener = harness.CreateListener(shared);
        using var cancellation = new CancellationTokenSource();
        var accept = listener.AcceptAsync(cancellation.Token).AsTask();

        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accept.WaitAsync(LoopbackHarness.Timeout));
    }

    [Fact]
    public async Task AddListener_RuntimeActivatedLater_ActivatesAndDeactivatesOnSharedListener()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var runtime = harness.CreateRuntime();
        var listener = new WorkerConnectionListener(shared, runtime);

        runtime.AddListener(listener);
        Assert.Equal(0, shared.ActiveWorkers);
        runtime.ActivateListeners();
        Assert.Equal(1, shared.ActiveWorkers);
        runtime.DeactivateListeners();
        Assert.Equal(0, shared.ActiveWorkers);

        await listener.DisposeAsync();
    }

    [Fact]
    public void AddListener_RuntimeAlreadyActive_ActivatesAtOnce()
    {
        using var harness = new LoopbackHarness();
        var shared = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var runtime = harness.CreateRuntime();
        runtime.ActivateListeners();

        runtime.AddListener(new WorkerConnectionListener(shared, runtime));

        Assert.Equal(1, shared.ActiveWorkers);
    }
}
