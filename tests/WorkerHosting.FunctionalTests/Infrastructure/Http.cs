using System.Net.Http.Json;

namespace WorkerHosting.FunctionalTests.Infrastructure;

internal static class Http
{
    /// <summary>A client whose every request goes on a new connection, as wrk's "Connection: close" load does.</summary>
    public static HttpClient NewConnectionPerRequest(Uri address) => new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero })
    {
        BaseAddress = address,
        DefaultRequestHeaders = { ConnectionClose = true },
        Timeout = TaskTimeoutExtensions.DefaultTimeoutValue,
    };

    public static async Task<T> GetJsonAsync<T>(this HttpClient client, string path)
        => await client.GetFromJsonAsync<T>(path) ?? throw new InvalidOperationException($"GET {path} returned null.");
}

internal sealed record WorkerInfo(int Slot, int Generation, string Role);

internal sealed record CounterValue(int Worker, int Count);
