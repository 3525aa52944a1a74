using System.Net;

namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>
/// Keep-alive HTTP/2 clients, as gRPC clients use HTTP/2: one <see cref="HttpClient"/> over cleartext with prior
/// knowledge (h2c), its requests multiplexed as streams over few connections, each client sending its next request the
/// moment a response has arrived. SocketsHttpHandler moves to a new connection after a GOAWAY and retries the requests
/// the GOAWAY says were not processed; any other failure is recorded. Bounded in time.
/// </summary>
internal sealed class Http2Load : IAsyncDisposable
{
    private static readonly TimeSpan MaxDuration = TimeSpan.FromMinutes(2);

    private readonly CancellationTokenSource _stop = new(MaxDuration);
    private readonly HttpClient _client;
    private readonly Task[] _clients;
    private readonly Lock _lock = new();
    private readonly List<string> _failures = [];
    private readonly SuccessCounter _succeeded = new();

    private Http2Load(Uri address, int clients)
    {
        _client = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
        {
            BaseAddress = address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        _clients = [.. Enumerable.Range(0, clients).Select(_ => Task.Run(RunClientAsync))];
    }

    public long Succeeded => _succeeded.Count;

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

    public static Http2Load Start(Uri address, int clients = 16) => new(address, clients);

    /// <summary>Waits until at least <paramref name="count"/> more requests have succeeded.</summary>
    public Task WaitForMoreSuccessesAsync(long count) => _succeeded.WaitForMoreAsync(count).DefaultTimeout();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
        _client.Dispose();
        _stop.Dispose();
    }

    private async Task RunClientAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var response = await _client.GetAsync("/", _stop.Token);
                if (response.IsSuccessStatusCode && response.Version == HttpVersion.Version20)
                {
                    _succeeded.Increment();
                }
                else
                {
                    Fail($"{(int)response.StatusCode} over HTTP/{response.Version}");
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException e)
            {
                Fail(e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message);
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
}
