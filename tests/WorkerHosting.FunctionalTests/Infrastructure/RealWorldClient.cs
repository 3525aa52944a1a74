using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using RealWorldApp.Greet;

namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>
/// Drives every feature of RealWorldApp over its two endpoints (HTTP/1.1, and HTTP/2 only for gRPC), asserting each
/// answer. Every HTTP request goes on a new connection, so requests spread over the workers; the cache checks use one
/// kept-alive connection on purpose (it stays with one worker, whose cache must answer the second request), and so do
/// the features whose answer does not name the worker (asked with GET /worker first on the same connection).
/// </summary>
internal sealed class RealWorldClient : IDisposable
{
    /// <summary>How many times <see cref="WorkersMayDrain"/> lets a feature try again.</summary>
    private const int AttemptsWhileDraining = 3;

    private static readonly string[] SwaggerPaths = ["/blogs", "/blogs/{id}", "/blogs/{id}/posts", "/worker", "/self"];

    private readonly HttpClient _http;
    private readonly Lock _lock = new();
    private readonly List<string> _retries = [];

    public RealWorldClient(Uri httpAddress, Uri grpcAddress)
    {
        HttpAddress = httpAddress;
        GrpcAddress = grpcAddress;
        _http = Http.NewConnectionPerRequest(httpAddress);
    }

    public Uri HttpAddress { get; }

    public Uri GrpcAddress { get; }

    /// <summary>The features <see cref="ExerciseEachFeatureAsync"/> calls, by the names it reports them under.</summary>
    public static IReadOnlyList<string> Features { get; } =
    [
        "worker", "ef-core", "validation", "http-client-factory", "output-cache", "memory-cache", "rate-limiter",
        "background-service", "prometheus", "swagger", "grpc", "signalr",
    ];

    /// <summary>
    /// Whether workers may drain while a feature is called (MaxRequests recycles them under this client's own requests).
    /// A draining worker closes its kept-alive connections (SignalR's, and the idle ones) and a request in flight gets
    /// "Connection: close", as any server that stops does; clients then connect again. With this set, a feature whose
    /// kept-alive connection was replaced midway, or whose requests on it, SignalR or gRPC call failed with an
    /// exception, is tried again on a new connection (at most <see cref="AttemptsWhileDraining"/> attempts), and the
    /// retry is recorded in <see cref="Retries"/>; a wrong answer is never tried again. Without it, each of those fails
    /// the test.
    /// </summary>
    public bool WorkersMayDrain { get; set; }

    /// <summary>
    /// Whether /metrics must show the app's own meter. Every worker's OpenTelemetry MeterProvider listens to meters by
    /// name, process-wide, so it aggregates the same-named meters of every worker (each worker's counters include the
    /// others'), and a stream it shares with a worker that stopped is deactivated when that worker's meters are
    /// disposed: after a reload or a recycle, the new workers' /metrics may lack the app's meter. Tests that replace
    /// workers turn this off; /metrics must then still be the worker's own Prometheus exporter.
    /// </summary>
    public bool ExpectAppMeter { get; set; } = true;

    /// <summary>Told which worker served each feature call, and how long it took.</summary>
    public Action<string>? Log { get; set; }

    /// <summary>The features tried again because <see cref="WorkersMayDrain"/>, and why.</summary>
    public IReadOnlyList<string> Retries
    {
        get
        {
            lock (_lock)
            {
                return [.. _retries];
            }
        }
    }

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
    public async Task<IReadOnlySet<int>> ExerciseAllAsync() => (await ExerciseEachFeatureAsync()).Values.ToHashSet();

    /// <summary>Calls every feature once (the caches twice on one connection) and returns the worker that answered each.</summary>
    public async Task<IReadOnlyDictionary<string, int>> ExerciseEachFeatureAsync()
    {
        var served = new Dictionary<string, int>();
        foreach (var (feature, call) in FeatureCalls())
        {
            served[feature] = await TimedAsync(feature, call);
        }

        return served;
    }

    /// <summary>
    /// Calls each feature until every one of <paramref name="workers"/> served it (and no other worker did), and
    /// returns how many calls that took. Each feature is first called once per worker at the same time (the calls'
    /// connections go to the workers in turn, so they most often reach every worker, which warm up together), then
    /// one call at a time until every worker served it. A feature that uses an even number of connections (or, the
    /// first time, one more: the app's connection to itself) reaches the same worker again when called twice in a
    /// row; every second time that happens, one more connection (GET /worker) moves the turn on.
    /// </summary>
    public async Task<int> ExerciseAllOnEveryWorkerAsync(IReadOnlyCollection<int> workers)
    {
        var calls = 0;
        foreach (var (feature, call) in FeatureCalls())
        {
            var served = new HashSet<int>();
            void Served(int worker)
            {
                calls++;
                Assert.True(workers.Contains(worker), $"{feature} was served by worker {worker}, which is not one of {string.Join(", ", workers.Order())}.");
                served.Add(worker);
            }

            foreach (var worker in await Task.WhenAll(workers.Select(_ => TimedAsync(feature, call))))
            {
                Served(worker);
            }

            var repeats = 0;
            for (var attempt = 1; !served.IsSupersetOf(workers); attempt++)
            {
                Assert.True(attempt <= 3 * workers.Count, $"{feature} was called {calls} times and served by workers {string.Join(", ", served.Order())} only, not by each of {string.Join(", ", workers.Order())}.");
                var count = served.Count;
                Served(await TimedAsync(feature, call));
                if (served.Count == count && ++repeats % 2 == 0)
                {
                    await GetWorkerAsync();
                }
            }
        }

        return calls;
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
    public Task<int> InvalidPostIsRejectedAsync() => OnWorkerAsync("validation", async client =>
    {
        using var response = await client.PostAsJsonAsync("/blogs/1/posts", new { title = "", content = "" }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync().DefaultTimeout());
        var errors = problem.RootElement.GetProperty("errors");
        Assert.Contains("'Title' must not be empty.", errors.GetProperty("Title").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("'Content' must not be empty.", errors.GetProperty("Content").EnumerateArray().Select(e => e.GetString()));
    });

    /// <summary>The app calls itself over HTTP through IHttpClientFactory with the standard resilience handler.</summary>
    public async Task<int> SelfCallThroughHttpClientFactoryAsync()
    {
        var result = await _http.GetJsonAsync<SelfCallResult>("/self").DefaultTimeout();
        Assert.Equal("Worker", result.AnsweredBy.Role);
        return result.CalledFrom;
    }

    /// <summary>Two requests on one connection reach one worker: the second is served from its output cache.</summary>
    public Task<int> OutputCacheAsync() => SameValueTwiceOnOneConnectionAsync("output-cache", "/cached/output");

    /// <summary>Two requests on one connection reach one worker: the second reads the value its IMemoryCache kept.</summary>
    public Task<int> MemoryCacheAsync() => SameValueTwiceOnOneConnectionAsync("memory-cache", "/cached/memory");

    public async Task<int> RateLimitedEndpointAsync()
    {
        using var response = await _http.GetAsync("/limited").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var info = await response.Content.ReadFromJsonAsync<WorkerInfo>().DefaultTimeout();
        Assert.NotNull(info);
        return info.Id;
    }

    /// <summary>The worker's BackgroundService ticks (every 100 ms): one connection, polled until it has ticked.</summary>
    public Task<int> BackgroundServiceTicksAsync() => OnOneConnectionAsync("background-service", async client =>
    {
        var ticks = await EventuallyAsync(() => client.GetJsonAsync<TickCount>("/ticks"), t => t.Ticks > 0);
        return ticks.Worker;
    });

    /// <summary>
    /// /metrics is the Prometheus text format of the app's resource, and has the app's own meter (the background ticks
    /// counter) unless <see cref="ExpectAppMeter"/> is off.
    /// </summary>
    public Task<int> PrometheusShowsTheAppsMeterAsync() => OnWorkerAsync("prometheus", async client =>
    {
        var metrics = ExpectAppMeter
            ? await EventuallyAsync(() => client.GetStringAsync("/metrics"), m => m.Contains("realworld_background_ticks_total{", StringComparison.Ordinal))
            : await client.GetStringAsync("/metrics").DefaultTimeout();
        if (ExpectAppMeter)
        {
            Assert.Contains("# TYPE realworld_background_ticks_total counter", metrics, StringComparison.Ordinal);
        }

        Assert.Contains("# TYPE target_info gauge", metrics, StringComparison.Ordinal);
        Assert.Contains("target_info{service_name=\"RealWorldApp\"", metrics, StringComparison.Ordinal);
    });

    public Task<int> SwaggerDocumentAsync() => OnWorkerAsync("swagger", async client =>
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json").DefaultTimeout());
        Assert.StartsWith("3.", document.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.RootElement.GetProperty("paths");
        foreach (var path in SwaggerPaths)
        {
            Assert.True(paths.TryGetProperty(path, out _), $"swagger.json has no path {path}.");
        }
    });

    /// <summary>SayHello over HTTP/2 (cleartext, prior knowledge) on the gRPC endpoint, on a new channel (connection).</summary>
    public Task<int> GrpcSayHelloAsync() => RetriedWhileDrainingAsync("grpc", async () =>
    {
        using var channel = GrpcChannel.ForAddress(GrpcAddress);
        var greeter = new Greeter.GreeterClient(channel);
        var reply = await greeter.SayHelloAsync(new HelloRequest { Name = "tests" }, deadline: DateTime.UtcNow.Add(TaskTimeoutExtensions.DefaultTimeoutValue));
        Assert.Equal("Hello tests", reply.Message);
        Assert.True(reply.Generation >= 1);
        return reply.WorkerId;
    });

    /// <summary>
    /// A SignalR round trip on a new connection, started and disposed. WebSockets without negotiation: negotiate and
    /// the WebSocket would be two connections, which the coordinator may hand to two workers (as a load balancer
    /// without sticky sessions would).
    /// </summary>
    public Task<int> SignalREchoAsync() => RetriedWhileDrainingAsync("signalr", async () =>
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
    });

    public void Dispose() => _http.Dispose();

    /// <summary>Every feature, by the name in <see cref="Features"/>, with the call that exercises it and returns the worker that served it.</summary>
    private List<(string Feature, Func<Task<int>> Call)> FeatureCalls()
    {
        List<(string, Func<Task<int>>)> calls =
        [
            ("worker", async () => (await GetWorkerAsync()).Id),
            ("ef-core", WriteThenReadThroughEfCoreAsync),
            ("validation", InvalidPostIsRejectedAsync),
            ("http-client-factory", SelfCallThroughHttpClientFactoryAsync),
            ("output-cache", OutputCacheAsync),
            ("memory-cache", MemoryCacheAsync),
            ("rate-limiter", RateLimitedEndpointAsync),
            ("background-service", BackgroundServiceTicksAsync),
            ("prometheus", PrometheusShowsTheAppsMeterAsync),
            ("swagger", SwaggerDocumentAsync),
            ("grpc", GrpcSayHelloAsync),
            ("signalr", SignalREchoAsync),
        ];
        Assert.Equal(Features, calls.Select(c => c.Item1));
        return calls;
    }

    private async Task<int> TimedAsync(string feature, Func<Task<int>> call)
    {
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var worker = await call();
        Log?.Invoke($"{feature}: worker {worker}, {stopwatch.ElapsedMilliseconds} ms");
        return worker;
    }

    private Task<int> SameValueTwiceOnOneConnectionAsync(string feature, string path) => OnOneConnectionAsync(feature, async client =>
    {
        var first = await client.GetJsonAsync<CachedValue>(path).DefaultTimeout();
        var second = await client.GetJsonAsync<CachedValue>(path).DefaultTimeout();
        return (first, second);
    }, values =>
    {
        var (first, second) = values;
        Assert.Equal(first.Worker, second.Worker);
        Assert.Equal(first, second);
        return first.Worker;
    });

    /// <summary>GET /worker, then the feature's requests, on one kept-alive connection: they reach the worker returned.</summary>
    private Task<int> OnWorkerAsync(string feature, Func<HttpClient, Task> requests) => OnOneConnectionAsync(feature, async client =>
    {
        var worker = await client.GetJsonAsync<WorkerInfo>("/worker").DefaultTimeout();
        await requests(client);
        return worker.Id;
    });

    private Task<T> OnOneConnectionAsync<T>(string feature, Func<HttpClient, Task<T>> requests) =>
        OnOneConnectionAsync(feature, requests, result => result);

    /// <summary>
    /// Sends <paramref name="requests"/> on one kept-alive connection, so they reach one worker, and checks that they
    /// did (the client connected once) before <paramref name="check"/> asserts on what they returned.
    /// </summary>
    private async Task<TResult> OnOneConnectionAsync<T, TResult>(string feature, Func<HttpClient, Task<T>> requests, Func<T, TResult> check)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var connection = new OneConnection(HttpAddress);
            T result;
            try
            {
                result = await requests(connection.Client);
            }
            catch (Exception e) when (WorkersMayDrain && attempt < AttemptsWhileDraining && e is not Xunit.Sdk.XunitException)
            {
                AddRetry($"{feature}: {e.GetType().Name}: {e.Message} (attempt {attempt})");
                continue;
            }

            if (connection.Connections == 1)
            {
                return check(result);
            }

            var reason = $"{feature}: the requests needed {connection.Connections} connections instead of one kept alive (attempt {attempt})";
            Assert.True(WorkersMayDrain && attempt < AttemptsWhileDraining, reason);
            AddRetry(reason);
        }
    }

    /// <summary>Calls a feature on a new connection; while <see cref="WorkersMayDrain"/>, a failed call is tried again.</summary>
    private async Task<T> RetriedWhileDrainingAsync<T>(string feature, Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (WorkersMayDrain && attempt < AttemptsWhileDraining && e is not Xunit.Sdk.XunitException)
            {
                AddRetry($"{feature}: {e.GetType().Name}: {e.Message} (attempt {attempt})");
            }
        }
    }

    private void AddRetry(string reason)
    {
        lock (_lock)
        {
            _retries.Add(reason);
        }
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        using var timeout = new CancellationTokenSource(TaskTimeoutExtensions.DefaultTimeoutValue);
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            if (timeout.IsCancellationRequested)
            {
                Assert.Fail($"Still not as expected after {TaskTimeoutExtensions.DefaultTimeoutValue}: {value}");
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }
}

/// <summary>
/// An HTTP client on at most one connection at a time, which counts the connections it opened: requests sent on it
/// reached one worker if it connected once.
/// </summary>
internal sealed class OneConnection : IDisposable
{
    private int _connections;

    public OneConnection(Uri address)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            ConnectCallback = async (context, cancellationToken) =>
            {
                Interlocked.Increment(ref _connections);
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        Client = new HttpClient(handler) { BaseAddress = address, Timeout = TaskTimeoutExtensions.DefaultTimeoutValue };
    }

    public HttpClient Client { get; }

    public int Connections => Volatile.Read(ref _connections);

    public void Dispose() => Client.Dispose();
}

internal sealed record BlogDto(int Id, string Name, IReadOnlyList<PostDto> Posts);

internal sealed record PostDto(int Id, string Title, string Content, DateTimeOffset CreatedAt, int CreatedByWorker);

internal sealed record SelfCallResult(int CalledFrom, WorkerInfo AnsweredBy);

internal sealed record CachedValue(int Worker, Guid Value, DateTimeOffset CreatedAt);

internal sealed record TickCount(int Worker, long Ticks);

internal sealed record EchoReply(string Message, int Worker, int Generation);
