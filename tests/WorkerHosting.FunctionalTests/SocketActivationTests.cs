using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// Socket activation: an app whose Kestrel listens on the sockets systemd passes (<c>options.UseSystemd()</c>) serves them
/// from every worker. Debian's systemd-socket-activate plays systemd: it binds the socket and execs the app with
/// LISTEN_FDS and LISTEN_PID set.
/// </summary>
public sealed class SocketActivationTests
{
    [Fact]
    public async Task AnAppStartedBySystemdSocketActivate_ServesThePassedSocketFromEveryWorker()
    {
        var port = FreeLoopbackPort();
        AppProcess started;
        try
        {
            started = AppProcess.StartThrough(["systemd-socket-activate", "-l", $"127.0.0.1:{port}"], TestApps.Minimal,
                ["--Workers:Count=2", "--TestApp:SystemdSockets=true"]);
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException("systemd-socket-activate is not installed: install Debian's systemd package (.ci/run does).", e);
        }

        await using var app = started;
        var address = new Uri($"http://127.0.0.1:{port}/");
        using var client = Http.NewConnectionPerRequest(address);

        // The launcher binds the socket first (in its own time), then waits for a connection.
        await app.WaitForOutputAsync($@"Listening on 127\.0\.0\.1:{port} as 3\.");

        // As under systemd, the app starts with the first connection, which waits in the socket's queue meanwhile and is
        // then served by a worker.
        var first = await client.GetJsonAsync<WorkerInfo>("/");
        await app.WaitForOutputAsync(@"2 of 2 workers are ready");
        Assert.Equal("Worker", first.Role);

        // The app listens on the socket it was passed (fd 3) and bound nothing itself: the passed socket has no
        // SO_REUSEPORT, so a second bind of the port would have failed, and the app reports the passed socket's address.
        Assert.Equal(address, await app.WaitForAddressAsync());

        var slots = new HashSet<int> { first.Slot };
        for (var i = 0; i < 200 && slots.Count < 2; i++)
        {
            slots.Add((await client.GetJsonAsync<WorkerInfo>("/")).Slot);
        }

        Assert.Equal([0, 1], slots.Order());

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
