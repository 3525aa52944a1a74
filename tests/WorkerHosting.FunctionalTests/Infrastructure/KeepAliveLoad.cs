using System.Net;
using System.Net.Sockets;
using System.Text;

namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>
/// Keep-alive HTTP/1.1 clients on raw sockets, as wrk without <c>Connection: close</c>: each sends its next request on
/// the same connection the moment a response has arrived, and opens a new connection only when the server said
/// <c>Connection: close</c> (or after a failure, which it records). No retry hides a lost request. Bounded in time.
/// </summary>
internal sealed class KeepAliveLoad : IAsyncDisposable
{
    private static readonly TimeSpan MaxDuration = TimeSpan.FromMinutes(2);

    private readonly CancellationTokenSource _stop = new(MaxDuration);
    private readonly Task[] _clients;
    private readonly Lock _lock = new();
    private readonly List<string> _failures = [];
    private readonly string _path;
    private readonly SuccessCounter _succeeded = new();
    private long _closedByServer;

    private KeepAliveLoad(IPEndPoint endpoint, string path, int clients)
    {
        _path = path;
        _clients = [.. Enumerable.Range(0, clients).Select(_ => Task.Run(() => RunClientAsync(endpoint)))];
    }

    public long Succeeded => _succeeded.Count;

    /// <summary>Responses that carried <c>Connection: close</c> (the client then moved to a new connection).</summary>
    public long ClosedByServer => Interlocked.Read(ref _closedByServer);

    public IReadOnlyList<string> Failures
    {
        get
        {
            lock (_lock)
            {
                return [.. _failures];
            }
        }
    }

    public static KeepAliveLoad Start(Uri address, string path = "/", int clients = 16)
        => new(new IPEndPoint(IPAddress.Parse(address.Host), address.Port), path, clients);

    /// <summary>Waits until at least <paramref name="count"/> more requests have succeeded.</summary>
    public Task WaitForMoreSuccessesAsync(long count) => _succeeded.WaitForMoreAsync(count).DefaultTimeout();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
        _stop.Dispose();
    }

    private async Task RunClientAsync(IPEndPoint endpoint)
    {
        var request = Encoding.ASCII.GetBytes($"GET {_path} HTTP/1.1\r\nHost: {endpoint}\r\n\r\n");
        var buffer = new byte[64 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(endpoint, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e)
            {
                Fail($"connect: {e.SocketErrorCode}");
                continue;
            }

            var reader = new ResponseReader(socket, buffer);
            while (!_stop.IsCancellationRequested)
            {
                bool close;
                try
                {
                    await socket.SendAsync(request, SocketFlags.None);
                    close = await reader.ReadResponseAsync(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception e) when (e is SocketException or IOException or InvalidDataException)
                {
                    Fail(e.Message);
                    break;
                }

                _succeeded.Increment();
                if (close)
                {
                    Interlocked.Increment(ref _closedByServer);
                    break;
                }
            }
        }
    }

    private void Fail(string reason)
    {
        lock (_lock)
        {
            _failures.Add(reason);
        }
    }

    /// <summary>Reads one HTTP/1.1 response (Content-Length or chunked) off a socket; returns whether it said Connection: close.</summary>
    private sealed class ResponseReader(Socket socket, byte[] buffer)
    {
        private int _start;
        private int _end;

        public async Task<bool> ReadResponseAsync(CancellationToken cancellationToken)
        {
            var head = await ReadLineBlockAsync(cancellationToken);
            var lines = head.Split("\r\n");
            if (!lines[0].StartsWith("HTTP/1.1 2", StringComparison.Ordinal))
            {
                throw new InvalidDataException($"unexpected status line '{lines[0]}'");
            }

            var close = lines.Any(l => l.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase) && l.Contains("close", StringComparison.OrdinalIgnoreCase));
            var length = lines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            if (length is not null)
            {
                await SkipAsync(int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
            }
            else if (lines.Any(l => l.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase)))
            {
                while (true)
                {
                    var size = Convert.ToInt32((await ReadLineAsync(cancellationToken)).Split(';')[0], 16);
                    await SkipAsync(size, cancellationToken);
                    await ReadLineAsync(cancellationToken);
                    if (size == 0)
                    {
                        break;
                    }
                }
            }

            return close;
        }

        private async Task<string> ReadLineBlockAsync(CancellationToken cancellationToken)
        {
            var text = new StringBuilder();
            while (true)
            {
                var line = await ReadLineAsync(cancellationToken);
                if (line.Length == 0)
                {
                    return text.ToString();
                }

                text.Append(line).Append("\r\n");
            }
        }

        private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var newline = Array.IndexOf(buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    var line = Encoding.ASCII.GetString(buffer, _start, newline - _start).TrimEnd('\r');
                    _start = newline + 1;
                    return line;
                }

                await FillAsync(cancellationToken);
            }
        }

        private async Task SkipAsync(int count, CancellationToken cancellationToken)
        {
            while (count > 0)
            {
                if (_start == _end)
                {
                    await FillAsync(cancellationToken);
                }

                var take = Math.Min(count, _end - _start);
                _start += take;
                count -= take;
            }
        }

        private async Task FillAsync(CancellationToken cancellationToken)
        {
            if (_start > 0)
            {
                Array.Copy(buffer, _start, buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            var read = await socket.ReceiveAsync(buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new IOException("the server closed the connection before a complete response");
            }

            _end += read;
        }
    }
}
