using System.Net;
using System.Net.Sockets;
using WorkerHosting.Listeners;

namespace WorkerHosting.Tests.Listeners;

public class WorkerConnectionListenerFactoryTests
{
    [Fact]
    public async Task BindAsync_SameEndpointTwice_MapsToCoordinatorsBindingsInOrder()
    {
        using var harness = new LoopbackHarness();
        var first = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var second = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var factory = new WorkerConnectionListenerFactory(harness.CreateRuntime());

        var listener1 = await factory.BindAsync(LoopbackHarness.AnyLoopbackPort);
        var listener2 = await factory.BindAsync(LoopbackHarness.AnyLoopbackPort);

        Assert.Same(first, Assert.IsType<WorkerConnectionListener>(listener1).Shared);
        Assert.Same(second, Assert.IsType<WorkerConnectionListener>(listener2).Shared);
        Assert.Equal(first.LocalEndPoint, listener1.EndPoint);
        Assert.Equal(second.LocalEndPoint, listener2.EndPoint);
    }

    [Fact]
    public async Task BindAsync_EndpointCoordinatorDidNotBind_ThrowsInvalidOperationException()
    {
        using var harness = new LoopbackHarness();
        var factory = new WorkerConnectionListenerFactory(harness.CreateRuntime());

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 5998)));
    }

    [Fact]
    public void CanBind_IPAndUnixEndpoints_True()
    {
        using var harness = new LoopbackHarness();
        var factory = new WorkerConnectionListenerFactory(harness.CreateRuntime());

        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.Loopback, 0)));
        Assert.True(factory.CanBind(new UnixDomainSocketEndPoint("/tmp/workerhosting-test.sock")));
        Assert.False(factory.CanBind(new DnsEndPoint("localhost", 80)));
    }
}
