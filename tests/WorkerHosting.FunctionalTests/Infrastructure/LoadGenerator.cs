using System.Diagnostics;
using System.Net;

namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>
/// Continuous load while a test reloads, scales or recycles workers: several clients, each sending one request after
/// another, every request on a new connection (as wrk with "Connection: close"). Bounded in time and count.
/// </summary>
internal sealed class LoadGenerator : IAsyncDisposable
{
    private static readonly TimeSpan MaxDuration = TimeSpan.FromMinutes(2);
    private const int MaxRequestsPerClient = 200_000;

    private readonly CancellationTokenSource _stop = new(MaxDuration);
    private readonly Task[] _clients;
    private readonly Lock _lock = new();
    private readonly List<string> _failures = [];
    private readonly HashSet<string> _bodies = [];
    private long _succeeded;

    private LoadGenerator(Uri address, string path, int clients)
    {
        _clients = [.. Enumerable.Range(0, clients).Select(_ => Task.Run(() => RunClientAsync(address, path)))];
    }

    public long Succeeded => Interlocked.Read(ref _succeeded);

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

    /// <summary>Distinct response bodies seen (for example which worker and generation served).</summary>
    public IReadOnlySet<string> Bodies
    {
        get
        {
            lock (_lock)
            {
                return _bodies.ToHashSet();
            }
        }
    }

    public static LoadGenerator Start(Uri address, string path = "/", int clients = 8) => new(address, path, clients);

    /// <summary>Waits until at least <paramref name="count"/> more requests have succeeded.</summary>
    public async Task WaitForMoreSuccessesAsync(long count)
    {
        var target = Succeeded + count;
        var stopwatch = Stopwatch.StartNew();
        while (Succeeded < target)
        {
            if (stopwatch.Elapsed > TaskTimeoutExtensions.DefaultTimeoutValue || _clients.All(c => c.IsCompleted))
            {
                throw new TimeoutException($"Only {Succeeded} of {target} requests succeeded; failures: {string.Join("; ", Failures.Take(5))}");
            }

            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
        _stop.Dispose();
    }

    private async Task RunClientAsync(Uri address, string path)
    {
        using var client = Http.NewConnectionPerRequest(address);
        for (var i = 0; i < MaxRequestsPerClient && !_stop.IsCancellationRequested; i++)
        {
            try
            {
                using var response = await client.GetAsync(path, _stop.Token);
                var body = await response.Content.ReadAsStringAsync(_stop.Token);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Fail($"{(int)response.StatusCode} {body}");
                    continue;
                }

                Interlocked.Increment(ref _succeeded);
                lock (_lock)
                {
                    _bodies.Add(body);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Fail($"{e.GetType().Name}: {e.Message} {e.InnerException?.Message}");
            }
        }
    }

    private void Fail(string failure)
    {
        lock (_lock)
        {
            _failures.Add(failure);
        }
    }
}
