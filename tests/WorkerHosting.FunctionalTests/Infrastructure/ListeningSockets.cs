using System.Globalization;
using System.Net;

namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>
/// The TCP sockets a process listens on, read from Linux's /proc: the socket inodes among the process's open file
/// descriptors, matched against the LISTEN entries of its network namespace's tcp and tcp6 tables.
/// </summary>
internal static class ListeningSockets
{
    /// <summary>TCP_LISTEN, as /proc/net/tcp writes the state.</summary>
    private const string ListenState = "0A";

    public static IReadOnlyList<IPEndPoint> Of(int processId)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var descriptor in Directory.EnumerateFileSystemEntries($"/proc/{processId}/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(descriptor).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed while we read
            }

            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                inodes.Add(target["socket:[".Length..^1]);
            }
        }

        var listening = new List<IPEndPoint>();
        foreach (var table in new[] { "tcp", "tcp6" })
        {
            var path = $"/proc/{processId}/net/{table}";
            if (!File.Exists(path))
            {
                continue;
            }

            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
            foreach (var line in File.ReadLines(path).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields[3] == ListenState && inodes.Contains(fields[9]))
                {
                    listening.Add(ParseEndPoint(fields[1]));
                }
            }
        }

        return listening;
    }

    /// <summary>Parses "0100007F:1F90": the address as the kernel's 32-bit words in host byte order, then the port.</summary>
    private static IPEndPoint ParseEndPoint(string hex)
    {
        var (address, port) = hex.Split(':') is [var a, var p] ? (a, p) : throw new FormatException($"Not an endpoint: '{hex}'.");
        var bytes = new byte[address.Length / 2];
        for (var word = 0; word < address.Length / 8; word++)
        {
            var value = uint.Parse(address.AsSpan(word * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            BitConverter.TryWriteBytes(bytes.AsSpan(word * 4, 4), value);
        }

        return new IPEndPoint(new IPAddress(bytes), int.Parse(port, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
    }
}
