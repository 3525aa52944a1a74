using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace WorkerHosting.Listeners;

/// <summary>
/// Creates the coordinator's listening sockets: bound with SO_REUSEPORT where the OS has it, and on Linux with
/// TCP_DEFER_ACCEPT, so a connection is accepted (and handed to a worker) only once its first bytes arrived.
/// </summary>
internal static class ListenSocketFactory
{
    private const int LinuxSolSocket = 1;
    private const int LinuxSoReusePort = 15;
    private const int LinuxIpProtoTcp = 6;
    private const int LinuxTcpDeferAccept = 9;
    private const int BsdSolSocket = 0xffff;
    private const int BsdSoReusePort = 0x0200;

    /// <summary>
    /// Seconds the kernel holds a connection that has sent nothing before it is accepted anyway.
    /// </summary>
    private const int DeferAcceptSeconds = 1;

    /// <summary>
    /// Creates a socket bound to <paramref name="endpoint"/> and listening with an accept queue of <paramref name="backlog"/>;
    /// or, for a file handle (systemd's socket activation, <c>ListenHandle</c>), adopts the listening socket it names.
    /// </summary>
    public static Socket CreateBoundSocket(EndPoint endpoint, int backlog)
    {
        ArgumentNullException.ThrowIfNull(endpoint);

        if (endpoint is FileHandleEndPoint handle)
        {
            return Adopt(handle);
        }

        Socket socket = endpoint switch
        {
            IPEndPoint ip => new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp),
            UnixDomainSocketEndPoint => new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified),
            _ => throw new NotSupportedException(
                $"WorkerHosting cannot share the endpoint '{endpoint}' of type '{endpoint.GetType().Name}' between workers. Listen on an IP address, a Unix domain socket or a socket's file handle."),
        };

        try
        {
            if (endpoint is IPEndPoint ipEndPoint)
            {
                // As Kestrel does: an IPv6 'any' address takes IPv4 connections too.
                if (ipEndPoint.Address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true;
                }

                SetReusePort(socket);
                TrySetDeferAccept(socket);
            }

            socket.Bind(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException($"{e.Message} ('{endpoint}')", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        socket.Listen(backlog);
        return socket;
    }

    /// <summary>
    /// Takes over a listening socket the process was given (systemd passes them bound and listening, from fd 3 on): the
    /// coordinator accepts from it and hands connections to the workers, as for a socket it bound.
    /// </summary>
    private static Socket Adopt(FileHandleEndPoint endpoint)
    {
        if (endpoint.FileHandleType is not (FileHandleType.Auto or FileHandleType.Tcp))
        {
            throw new NotSupportedException(
                $"WorkerHosting cannot share the file handle {endpoint.FileHandle} of type {endpoint.FileHandleType} between workers: only a listening socket can be shared.");
        }

        Socket socket;
        try
        {
            socket = new Socket(new SafeSocketHandle(checked((nint)endpoint.FileHandle), ownsHandle: true));
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException(
                $"The file handle {endpoint.FileHandle} is not a socket WorkerHosting can listen on ({e.Message}). Under systemd, check the unit's sockets (LISTEN_FDS).", e);
        }

        if (socket.SocketType != SocketType.Stream)
        {
            socket.Dispose();
            throw new NotSupportedException($"The file handle {endpoint.FileHandle} is a {socket.SocketType} socket; WorkerHosting serves stream (TCP or Unix) sockets only.");
        }

        return socket;
    }

    /// <summary>
    /// SO_REUSEPORT lets another process (the next release during an upgrade, or more processes of the same app)
    /// join the port. .NET's ReuseAddress does not say which option it sets, so set the option by number.
    /// </summary>
    private static void SetReusePort(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            socket.SetRawSocketOption(LinuxSolSocket, LinuxSoReusePort, BitConverter.GetBytes(1));
        }
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            socket.SetRawSocketOption(BsdSolSocket, BsdSoReusePort, BitConverter.GetBytes(1));
        }

        // Windows has no SO_REUSEPORT: the coordinator's single socket is shared between workers by hand-off alone.
    }

    private static void TrySetDeferAccept(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            socket.SetRawSocketOption(LinuxIpProtoTcp, LinuxTcpDeferAccept, BitConverter.GetBytes(DeferAcceptSeconds));
        }
    }
}
