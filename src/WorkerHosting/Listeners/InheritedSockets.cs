using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace WorkerHosting.Listeners;

/// <summary>
/// How a hot upgrade passes the coordinator's listening sockets to the next process: the sockets themselves (the same
/// accept queues), inherited at the same descriptor numbers, and an environment variable that says which endpoint each
/// one serves (its key and occurrence, as <see cref="SharedEndpoints"/> knows them). The new process adopts them instead
/// of binding, so no connection is refused or reset in between.
/// </summary>
internal static partial class InheritedSockets
{
    /// <summary>One line per socket: its descriptor, a space, and the endpoint's key with its occurrence.</summary>
    public const string Variable = "WORKERHOSTING_LISTEN_FDS";

    private const int FGetFd = 1;
    private const int FSetFd = 2;
    private const int FdCloExec = 1;

    /// <summary>The value of <see cref="Variable"/> for the given sockets.</summary>
    public static string Format(IEnumerable<(string Key, int Descriptor)> sockets)
        => string.Join('\n', sockets.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Descriptor} {s.Key}")));

    /// <summary>Reads what the previous process passed, and removes the variable so no child of this one reads it again.</summary>
    public static Dictionary<string, int> TakeFromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable(Variable);
        Environment.SetEnvironmentVariable(Variable, null);
        return Parse(value);
    }

    public static Dictionary<string, int> Parse(string? value)
    {
        var sockets = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in (value ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0 && int.TryParse(line.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out var descriptor) && descriptor > 2)
            {
                sockets[line[(space + 1)..]] = descriptor;
            }
        }

        return sockets;
    }

    /// <summary>The key of the <paramref name="occurrence"/>-th binding of an endpoint key.</summary>
    public static string Key(string endpointKey, int occurrence) => string.Create(CultureInfo.InvariantCulture, $"{endpointKey}#{occurrence}");

    /// <summary>Takes over an inherited listening socket; children this process starts later do not inherit it.</summary>
    public static Socket Adopt(int descriptor)
    {
        var socket = new Socket(new SafeSocketHandle(descriptor, ownsHandle: true));
        SetInheritable(socket, false);
        return socket;
    }

    /// <summary>
    /// Whether a process started from now on inherits the socket (FD_CLOEXEC cleared). .NET creates every socket
    /// close-on-exec; a hot upgrade clears it for the moment it starts the next process.
    /// </summary>
    public static void SetInheritable(Socket socket, bool inheritable)
    {
        var descriptor = (int)socket.SafeHandle.DangerousGetHandle();
        var flags = Fcntl(descriptor, FGetFd, 0);
        if (flags < 0 || Fcntl(descriptor, FSetFd, inheritable ? flags & ~FdCloExec : flags | FdCloExec) < 0)
        {
            throw new InvalidOperationException($"fcntl on descriptor {descriptor} failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>Sends a signal to a process (kill(2)): SIGTERM to a new process that did not become ready.</summary>
    public static bool Signal(int processId, int signal) => Kill(processId, signal) == 0;

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int descriptor, int command, int argument);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int processId, int signal);
}
