using System.ComponentModel;
using System.Globalization;
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
        await using var app = StartActivated(port);
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

    [Fact]
    public async Task AHotUpgradeOfASocketActivatedApp_TheNewProcessServesThePassedSocket()
    {
        var port = FreeLoopbackPort();
        await using var app = StartActivated(port);
        await app.WaitForOutputAsync($@"Listening on 127\.0\.0\.1:{port} as 3\.");
        var address = new Uri($"http://127.0.0.1:{port}/");
        using var client = Http.NewConnectionPerRequest(address);
        Assert.Equal(app.Id.ToString(CultureInfo.InvariantCulture), await client.GetStringAsync("/pid"));
        await app.WaitForOutputAsync(@"2 of 2 workers are ready");

        int? next = null;
        try
        {
            // The new process gets LISTEN_PID of its own (set by a shell that execs it), so its Kestrel takes fd 3 again.
            app.Signal(AppProcess.SigUsr2);
            var serves = await app.WaitForOutputAsync(@"Hot upgrade: process (?<pid>\d+) serves after");
            next = int.Parse(serves.Groups["pid"].Value, CultureInfo.InvariantCulture);
            Assert.Equal(0, await app.WaitForProcessExitAsync());

            Assert.Equal(next.Value.ToString(CultureInfo.InvariantCulture), await client.GetStringAsync("/pid"));
            Assert.Equal(2, app.CountLines($@"Now listening on: http://127\.0\.0\.1:{port}"));
        }
        finally
        {
            await AppProcess.StopIfRunningAsync(next);
        }
    }

    private static AppProcess StartActivated(int port)
    {
        try
        {
            return AppProcess.StartThrough(["systemd-socket-activate", "-l", $"127.0.0.1:{port}"], TestApps.Minimal,
                ["--Workers:Count=2", "--TestApp:SystemdSockets=true"]);
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException("systemd-socket-activate is not installed: install Debian's systemd package (.ci/run does).", e);
        }
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
