using System.Net.Sockets;
using System.Text;

namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>
/// systemd's side of sd_notify: a Unix datagram socket the app is given as <c>NOTIFY_SOCKET</c>. Each datagram is one
/// message of newline-separated <c>KEY=value</c> assignments; the test reads them in the order they came.
/// </summary>
internal sealed class FakeNotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly TempFile _path = TempFile.Create("notify", ".sock");
    private readonly Lock _lock = new();
    private readonly List<string> _messages = [];
    private readonly List<(Func<IReadOnlyList<string>, bool> Condition, TaskCompletionSource Done)> _waiters = [];
    private readonly Task _receiving;

    public FakeNotifySocket()
    {
        _socket.Bind(new UnixDomainSocketEndPoint(_path.Path));
        _receiving = Task.Run(ReceiveAsync);
    }

    public string Path => _path.Path;

    public IReadOnlyList<string> Messages
    {
        get
        {
            lock (_lock)
            {
                return [.. _messages];
            }
        }
    }

    /// <summary>The messages' first assignments (READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1, STATUS=...), in order.</summary>
    public IReadOnlyList<string> Kinds => [.. Messages.Select(m => m.Split('\n')[0])];

    /// <summary>Waits until <paramref name="count"/> messages start with <paramref name="firstLine"/>.</summary>
    public Task WaitForAsync(string firstLine, int count = 1)
        => WaitUntilAsync(messages => messages.Count(m => m.Split('\n')[0] == firstLine) >= count,
            $"{count} message(s) starting with {firstLine}");

    public async Task WaitUntilAsync(Func<IReadOnlyList<string>, bool> condition, string what)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (condition(_messages))
            {
                return;
            }

            _waiters.Add((condition, done));
        }

        try
        {
            await done.Task.DefaultTimeout();
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"No {what} came. Messages:\n{string.Join("\n---\n", Messages)}", e);
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _ = _receiving.ContinueWith(static _ => { }, TaskScheduler.Default);
        _path.Dispose();
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[4096];
        while (true)
        {
            int received;
            try
            {
                received = await _socket.ReceiveAsync(buffer, SocketFlags.None);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return;
            }

            lock (_lock)
            {
                _messages.Add(Encoding.UTF8.GetString(buffer, 0, received));
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (_waiters[i].Condition(_messages))
                    {
                        _waiters[i].Done.TrySetResult();
                        _waiters.RemoveAt(i);
                    }
                }
            }
        }
    }
}
