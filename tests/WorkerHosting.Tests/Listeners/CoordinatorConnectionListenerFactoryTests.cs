using System.Net;
using System.Net.Sockets;
using WorkerHosting.Listeners;

namespace WorkerHosting.Tests.Listeners;

public class CoordinatorConnectionListenerFactoryTests
{
    [Fact]
    public async Task BindAsync_PortZero_BindsSharedEndpointAndReportsResolvedPort()
    {
        using var harness = new LoopbackHarness();
        var factory = new CoordinatorConnectionListenerFactory(harness.Endpoints);

        await using var listener = await factory.BindAsync(LoopbackHarness.AnyLoopbackPort);

        var shared = Assert.Single(harness.Endpoints.Listeners);
        Assert.Equal(shared.LocalEndPoint, listener.EndPoint);
        Assert.NotEqual(0, Assert.IsType<IPEndPoint>(listener.EndPoint).Port);
        Assert.Same(shared, harness.Endpoints.Resolve(LoopbackHarness.AnyLoopbackPort, 0));
    }

    [Fact]
    public async Task AcceptAsync_UntilUnbound_YieldsNoConnection()
    {
        using var harness = new LoopbackHarness();
        var factory = new CoordinatorConnectionListenerFactory(harness.Endpoints);
        await using var listener = await factory.BindAsync(LoopbackHarness.AnyLoopbackPort);
        var accept = listener.AcceptAsync().AsTask();

        Assert.False(accept.IsCompleted);
        await listener.UnbindAsync();

        Assert.Null(await accept.WaitAsync(LoopbackHarness.Timeout));
    }

    [Fact]
    public void CanBind_IPAndUnixEndpoints_True()
    {
        using var harness = new LoopbackHarness();
        var factory = new CoordinatorConnectionListenerFactory(harness.Endpoints);

        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.IPv6Loopback, 0)));
        Assert.True(factory.CanBind(new UnixDomainSocketEndPoint("/tmp/workerhosting-test.sock")));
        Assert.False(factory.CanBind(new DnsEndPoint("localhost", 80)));
    }
}
