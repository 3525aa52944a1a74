using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using WorkerHosting.Listeners;

namespace WorkerHosting.Tests.Listeners;

public class SharedEndpointsTests
{
    [Fact]
    public void Bind_PortZero_ResolvesPort()
    {
        using var harness = new LoopbackHarness();
        var requested = LoopbackHarness.AnyLoopbackPort;

        var listener = harness.Endpoints.Bind(requested);

        var local = Assert.IsType<IPEndPoint>(listener.LocalEndPoint);
        Assert.NotEqual(0, local.Port);
        Assert.Equal(IPAddress.Loopback, local.Address);
        Assert.Equal(requested, listener.RequestedEndPoint);
    }

    [Fact]
    public void Resolve_BoundEndpoint_ReturnsSameListener()
    {
        using var harness = new LoopbackHarness();
        var listener = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);

        var resolved = harness.Endpoints.Resolve(new IPEndPoint(IPAddress.Loopback, 0), 0);

        Assert.Same(listener, resolved);
    }

    [Fact]
    public void Resolve_EndpointNeverBound_ThrowsInvalidOperationExceptionNamingEndpoint()
    {
        using var harness = new LoopbackHarness();
        harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var unbound = new IPEndPoint(IPAddress.Loopback, 5999);

        var exception = Assert.Throws<InvalidOperationException>(() => harness.Endpoints.Resolve(unbound, 0));

        Assert.Contains("'127.0.0.1:5999'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_OccurrenceBeyondBindings_ThrowsInvalidOperationException()
    {
        using var harness = new LoopbackHarness();
        harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);

        Assert.Throws<InvalidOperationException>(() => harness.Endpoints.Resolve(LoopbackHarness.AnyLoopbackPort, 1));
    }

    [Fact]
    public void Bind_SameEndpointTwice_GivesTwoListenersResolvedInOrder()
    {
        using var harness = new LoopbackHarness();

        var first = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var second = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);

        Assert.NotSame(first, second);
        Assert.NotEqual(first.LocalEndPoint, second.LocalEndPoint);
        Assert.Same(first, harness.Endpoints.Resolve(LoopbackHarness.AnyLoopbackPort, 0));
        Assert.Same(second, harness.Endpoints.Resolve(LoopbackHarness.AnyLoopbackPort, 1));
        Assert.Equal([first, second], harness.Endpoints.Listeners);
    }

    [Fact]
    public void Bind_PortTakenWithoutReusePort_ThrowsAddressInUseException()
    {
        using var harness = new LoopbackHarness();
        using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        blocker.Bind(LoopbackHarness.AnyLoopbackPort);
        blocker.Listen(1);
        var taken = (IPEndPoint)blocker.LocalEndPoint!;

        var exception = Assert.Throws<AddressInUseException>(() => harness.Endpoints.Bind(taken));

        Assert.Contains(taken.ToString(), exception.Message, StringComparison.Ordinal);
        Assert.Empty(harness.Endpoints.Listeners);
    }

    [Fact]
    public void Resolve_EndpointWhoseBindFailed_ThrowsAddressInUseException()
    {
        using var harness = new LoopbackHarness();
        using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        blocker.Bind(LoopbackHarness.AnyLoopbackPort);
        blocker.Listen(1);
        var taken = (IPEndPoint)blocker.LocalEndPoint!;
        Assert.Throws<AddressInUseException>(() => harness.Endpoints.Bind(taken));

        var exception = Assert.Throws<AddressInUseException>(() => harness.Endpoints.Resolve(new IPEndPoint(taken.Address, taken.Port), 0));

        Assert.Contains(taken.ToString(), exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_FailedBindThenSuccessfulBind_CountsBothOccurrences()
    {
        using var harness = new LoopbackHarness();
        using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        blocker.Bind(LoopbackHarness.AnyLoopbackPort);
        blocker.Listen(1);
        var taken = (IPEndPoint)blocker.LocalEndPoint!;
        Assert.Throws<AddressInUseException>(() => harness.Endpoints.Bind(taken));
        blocker.Dispose();

        var bound = harness.Endpoints.Bind(taken);

        Assert.Throws<AddressInUseException>(() => harness.Endpoints.Resolve(taken, 0));
        Assert.Same(bound, harness.Endpoints.Resolve(taken, 1));
    }

    [Fact]
    public void Bind_PortBoundByAnotherSharedEndpoints_JoinsItWithReusePort()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return; // Windows has no SO_REUSEPORT.
        }

        using var first = new LoopbackHarness();
        using var second = new LoopbackHarness();
        var port = ((IPEndPoint)first.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort).LocalEndPoint).Port;

        var joined = second.Endpoints.Bind(new IPEndPoint(IPAddress.Loopback, port));

        Assert.Equal(port, ((IPEndPoint)joined.LocalEndPoint).Port);
    }

    [Fact]
    public async Task Dispose_BoundEndpoints_ClosesSocketsAndRefusesFurtherBinds()
    {
        var harness = new LoopbackHarness();
        var listener = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var endpoint = listener.LocalEndPoint;

        harness.Dispose();

        Assert.Throws<ObjectDisposedException>(() => harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var exception = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(endpoint).WaitAsync(LoopbackHarness.Timeout));
        Assert.Equal(SocketError.ConnectionRefused, exception.SocketErrorCode);
    }

    [Fact]
    public void Bind_ConfiguredSocketTransport_GivesEveryListenerTheSettings()
    {
        // The backlog cannot be read back from a listening socket; the listeners carry the settings it was taken from.
        using var harness = new LoopbackHarness(new SocketTransportOptions { Backlog = 7, NoDelay = false });

        var first = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);
        var second = harness.Endpoints.Bind(LoopbackHarness.AnyLoopbackPort);

        Assert.Equal(7, first.Settings.Backlog);
        Assert.False(first.Settings.NoDelay);
        Assert.Same(first.Settings, second.Settings);
    }

    [Fact]
    public void Bind_UnsupportedEndpointType_ThrowsNotSupportedException()
    {
        using var endpoints = new SharedEndpoints(LoopbackHarness.CreateSettings(), NullLogger<SharedEndpoints>.Instance, TimeProvider.System);

        Assert.Throws<NotSupportedException>(() => endpoints.Bind(new DnsEndPoint("localhost", 0)));
    }
}
