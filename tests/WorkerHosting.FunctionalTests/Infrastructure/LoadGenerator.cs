using System.Net;
using System.Runtime.CompilerServices;

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
    private readonly Task _clientsEnded;
    private readonly Lock _lock = new();
    private readonly List<string> _failures = [];
    private readonly HashSet<string> _bodies = [];
    private readonly SuccessCounter _succeeded = new();

    private LoadGenerator(Uri address, string path, int clients)
    {
        _clients = [.. Enumerable.Range(0, clients).Select(_ => Task.Run(() => RunClientAsync(address, path)))];
        _clientsEnded = Task.WhenAll(_clients);
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

    /// <summary>
    /// Waits until at least <paramref name="count"/> more requests have succeeded: signalled by the request that
    /// reaches the target. Fails if the load ends first (its time or request bound) or after the default timeout.
    /// </summary>
    public async Task WaitForMoreSuccessesAsync(long count, [CallerFilePath] string? file = null, [CallerLineNumber] int line = 0)
    {
        var target = Succeeded + count;
        var reached = _succeeded.WaitForMoreAsync(count);

        try
        {
            await Task.WhenAny(reached, _clientsEnded).DefaultTimeout(file, line);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} {Progress(target)}", e);
        }

        if (!reached.IsCompleted)
        {
            throw new TimeoutException($"The load ended before the target at {Path.GetFileName(file)}:{line}. {Progress(target)}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _clientsEnded;
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

                lock (_lock)
                {
                    _bodies.Add(body);
                }

                _succeeded.Increment();
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

    private string Progress(long target) => $"Only {Succeeded} of {target} requests succeeded; failures: {string.Join("; ", Failures.Take(5))}";

    private void Fail(string failure)
    {
        lock (_lock)
        {
            _failures.Add(failure);
        }
    }
}
