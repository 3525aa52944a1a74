using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using RealWorldApp.Greet;

namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>
/// Drives every feature of RealWorldApp over its two endpoints (HTTP/1.1, and HTTP/2 only for gRPC), asserting each
/// answer. Every HTTP request goes on a new connection, so requests spread over the workers; the cache checks use one
/// kept-alive connection on purpose (it stays with one worker, whose cache must answer the second request).
/// </summary>
internal sealed class RealWorldClient : IDisposable
{
    private readonly HttpClient _http;

    public RealWorldClient(Uri httpAddress, Uri grpcAddress)
    {
        HttpAddress = httpAddress;
        GrpcAddress = grpcAddress;
        _http = Http.NewConnectionPerRequest(httpAddress);
    }

    public Uri HttpAddress { get; }

    public Uri GrpcAddress { get; }

    /// <summary>
    /// Tells the app's endpoints apart: the HTTP/1.1 one answers an HTTP/1.1 request, the gRPC one (HTTP/2 only)
    /// refuses it with 400.
    /// </summary>
    public static async Task<RealWorldClient> ForAddressesAsync(IReadOnlyCollection<Uri> addresses)
    {
        Assert.Equal(2, addresses.Count);
        Uri? http = null, grpc = null;
        foreach (var address in addresses)
        {
            using var probe = Http.NewConnectionPerRequest(address);
            using var response = await probe.GetAsync("/worker").DefaultTimeout();
            switch (response.StatusCode)
            {
                case HttpStatusCode.OK:
                    http = address;
                    break;
                case HttpStatusCode.BadRequest:
                    grpc = address;
                    break;
                default:
                    Assert.Fail($"GET {address}worker over HTTP/1.1 answered {response.StatusCode}.");
                    break;
            }
        }

        Assert.NotNull(http);
        Assert.NotNull(grpc);
        return new RealWorldClient(http, grpc);
    }

    /// <summary>Calls every feature once (the caches twice on one connection) and returns the workers that answered.</summary>
    public async Task<IReadOnlySet<int>> ExerciseAllAsync()
    {
        var workers = new HashSet<int>
        {
            (await GetWorkerAsync()).Slot,
            await WriteThenReadThroughEfCoreAsync(),
        };
        await InvalidPostIsRejectedAsync();
        workers.Add(await SelfCallThroughHttpClientFactoryAsync());
        workers.Add(await OutputCacheAsync());
        workers.Add(await MemoryCacheAsync());
        workers.Add(await RateLimitedEndpointAsync());
        workers.Add(await BackgroundServiceTicksAsync());
        await PrometheusShowsTheAppsMeterAsync();
        await SwaggerDocumentAsync();
        workers.Add(await GrpcSayHelloAsync());
        workers.Add(await SignalREchoAsync());
        return workers;
    }

    public async Task<WorkerInfo> GetWorkerAsync()
    {
        var info = await _http.GetJsonAsync<WorkerInfo>("/worker").DefaultTimeout();
        Assert.Equal("Worker", info.Role);
        return info;
    }

    /// <summary>Creates a blog and a post (EF Core writes), reads them back with the relation (Include) and in the list.</summary>
    public async Task<int> WriteThenReadThroughEfCoreAsync()
    {
        var name = $"blog-{Guid.NewGuid():N}";
        using var created = await _http.PostAsJsonAsync("/blogs", new { name }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var blog = await created.Content.ReadFromJsonAsync<BlogDto>().DefaultTimeout();
        Assert.NotNull(blog);
        Assert.Equal(name, blog.Name);
        Assert.Empty(blog.Posts);

        using var posted = await _http.PostAsJsonAsync($"/blogs/{blog.Id}/posts", new { title = "Hello", content = "From the functional tests." }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Created, posted.StatusCode);
        var post = await posted.Content.ReadFromJsonAsync<PostDto>().DefaultTimeout();
        Assert.NotNull(post);

        // Read on another connection (most likely another worker): the database is shared, the post is there.
        var read = await _http.GetJsonAsync<BlogDto>($"/blogs/{blog.Id}").DefaultTimeout();
        Assert.Equal(name, read.Name);
        var readPost = Assert.Single(read.Posts);
        Assert.Equal((post.Id, "Hello", "From the functional tests.", post.CreatedByWorker), (readPost.Id, readPost.Title, readPost.Content, readPost.CreatedByWorker));

        var all = await _http.GetJsonAsync<BlogDto[]>("/blogs").DefaultTimeout();
        Assert.Contains(all, b => b.Id == blog.Id && b.Posts.Count == 1);
        return post.CreatedByWorker;
    }

    /// <summary>The FluentValidation validator rejects an empty post with 400 and the errors of each field.</summary>
    public async Task InvalidPostIsRejectedAsync()
    {
        using var response = await _http.PostAsJsonAsync("/blogs/1/posts", new { title = "", content = "" }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync().DefaultTimeout());
        var errors = problem.RootElement.GetProperty("errors");
        Assert.Contains("'Title' must not be empty.", errors.GetProperty("Title").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("'Content' must not be empty.", errors.GetProperty("Content").EnumerateArray().Select(e => e.GetString()));
    }

    /// <summary>The app calls itself over HTTP through IHttpClientFactory with the standard resilience handler.</summary>
    public async Task<int> SelfCallThroughHttpClientFactoryAsync()
    {
        var result = await _http.GetJsonAsync<SelfCallResult>("/self").DefaultTimeout();
        Assert.Equal("Worker", result.AnsweredBy.Role);
        return result.CalledFrom;
    }

    /// <summary>Two requests on one connection reach one worker: the second is served from its output cache.</summary>
    public Task<int> OutputCacheAsync() => SameValueTwiceOnOneConnectionAsync("/cached/output");

    /// <summary>Two requests on one connection reach one worker: the second reads the value its IMemoryCache kept.</summary>
    public Task<int> MemoryCacheAsync() => SameValueTwiceOnOneConnectionAsync("/cached/memory");

    public async Task<int> RateLimitedEndpointAsync()
    {
        using var response = await _http.GetAsync("/limited").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var info = await response.Content.ReadFromJsonAsync<WorkerInfo>().DefaultTimeout();
        Assert.NotNull(info);
        return info.Slot;
    }

    /// <summary>The worker's BackgroundService ticks (every 100 ms): /ticks/next answers after its next tick.</summary>
    public async Task<int> BackgroundServiceTicksAsync()
    {
        using var client = KeepAliveClient();
        var ticks = await client.GetJsonAsync<TickCount>("/ticks/next").DefaultTimeout();
        Assert.True(ticks.Ticks > 0, $"Worker {ticks.Worker} answered /ticks/next with {ticks.Ticks} ticks.");
        return ticks.Worker;
    }

    /// <summary>
    /// /metrics is the Prometheus text format and has the app's own meter (the background ticks counter). One
    /// connection, so both requests reach one worker: once it has ticked, its counter has a value to export.
    /// </summary>
    public async Task PrometheusShowsTheAppsMeterAsync()
    {
        using var client = KeepAliveClient();
        await client.GetJsonAsync<TickCount>("/ticks/next").DefaultTimeout();
        var metrics = await client.GetStringAsync("/metrics").DefaultTimeout();
        Assert.Contains("realworld_background_ticks_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE realworld_background_ticks_total counter", metrics, StringComparison.Ordinal);
        Assert.Contains("target_info{service_name=\"RealWorldApp\"", metrics, StringComparison.Ordinal);
    }

    public async Task SwaggerDocumentAsync()
    {
        using var document = JsonDocument.Parse(await _http.GetStringAsync("/swagger/v1/swagger.json").DefaultTimeout());
        Assert.StartsWith("3.", document.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.RootElement.GetProperty("paths");
        foreach (var path in new[] { "/blogs", "/blogs/{id}", "/blogs/{id}/posts", "/worker", "/self" })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"swagger.json has no path {path}.");
        }
    }

    /// <summary>SayHello over HTTP/2 (cleartext, prior knowledge) on the gRPC endpoint, on a new channel (connection).</summary>
    public async Task<int> GrpcSayHelloAsync()
    {
        using var channel = GrpcChannel.ForAddress(GrpcAddress);
        var greeter = new Greeter.GreeterClient(channel);
        var reply = await greeter.SayHelloAsync(new HelloRequest { Name = "tests" }, deadline: DateTime.UtcNow.Add(TaskTimeoutExtensions.DefaultTimeoutValue));
        Assert.Equal("Hello tests", reply.Message);
        Assert.True(reply.Generation >= 1);
        return reply.Slot;
    }

    /// <summary>
    /// A SignalR round trip on a new connection, started and disposed. WebSockets without negotiation: negotiate and
    /// the WebSocket would be two connections, which the coordinator may hand to two workers (as a load balancer
    /// without sticky sessions would).
    /// </summary>
    public async Task<int> SignalREchoAsync()
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(HttpAddress, "/hubs/echo"), options =>
            {
                options.SkipNegotiation = true;
                options.Transports = HttpTransportType.WebSockets;
            })
            .Build();
        await using (connection)
        {
            await connection.StartAsync().DefaultTimeout();
            var reply = await connection.InvokeAsync<EchoReply>("Echo", "ping").DefaultTimeout();
            Assert.Equal("ping", reply.Message);
            Assert.True(reply.Generation >= 1);
            await connection.StopAsync().DefaultTimeout();
            return reply.Worker;
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<int> SameValueTwiceOnOneConnectionAsync(string path)
    {
        using var client = KeepAliveClient();
        var first = await client.GetJsonAsync<CachedValue>(path).DefaultTimeout();
        var second = await client.GetJsonAsync<CachedValue>(path).DefaultTimeout();
        Assert.Equal(first.Worker, second.Worker);
        Assert.Equal(first, second);
        return first.Worker;
    }

    /// <summary>One connection, kept alive between requests: every request reaches the worker it was handed to.</summary>
    private HttpClient KeepAliveClient() => new() { BaseAddress = HttpAddress, Timeout = TaskTimeoutExtensions.DefaultTimeoutValue };
}

internal sealed record BlogDto(int Id, string Name, IReadOnlyList<PostDto> Posts);

internal sealed record PostDto(int Id, string Title, string Content, DateTimeOffset CreatedAt, int CreatedByWorker);

internal sealed record SelfCallResult(int CalledFrom, WorkerInfo AnsweredBy);

internal sealed record CachedValue(int Worker, Guid Value, DateTimeOffset CreatedAt);

internal sealed record TickCount(int Worker, long Ticks);

internal sealed record EchoReply(string Message, int Worker, int Generation);
