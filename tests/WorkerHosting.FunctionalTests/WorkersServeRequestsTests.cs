using System.Net;
using System.Net.Http.Json;
using WorkerHosting.FunctionalTests.Infrastructure;
using WorkerHosting.Testing;

namespace WorkerHosting.FunctionalTests;

public sealed class WorkersServeRequestsTests
{
    [Fact]
    public async Task RequestsOnNewConnectionsReachEveryWorker()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=4"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        var seen = new HashSet<int>();
        for (var i = 0; i < 40; i++)
        {
            var info = await client.GetJsonAsync<WorkerInfo>("/");
            Assert.Equal("Worker", info.Role);
            Assert.Equal(1, info.Generation);
            seen.Add(info.Slot);
        }

        Assert.Equal([0, 1, 2, 3], seen.Order());

        // Every worker listens on the one port the coordinator resolved from port 0.
        Assert.NotEqual(0, address.Port);
        Assert.Equal(1, app.CountLines("Now listening on:"));
        Assert.Equal(1, app.CountLines(@"Starting 4 workers on 127\.0\.0\.1:" + address.Port + @"\."));
    }

    [LinuxOnlyFact]
    public async Task EveryWorkerServesThroughTheCoordinatorsOneListeningSocket()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=4"]);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        var seen = new HashSet<int>();
        for (var i = 0; i < 40; i++)
        {
            seen.Add((await client.GetJsonAsync<WorkerInfo>("/")).Slot);
        }

        // Four workers answered on the one address, and the process listens on one socket: the coordinator's. A worker
        // that bound a socket of its own (on the same port with SO_REUSEPORT, or on another port) would add one.
        Assert.Equal([0, 1, 2, 3], seen.Order());
        var listening = Assert.Single(ListeningSockets.Of(app.Id));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, address.Port), listening);
    }

    [Fact]
    public async Task EachWorkerHasItsOwnStatics()
    {
        // In this test process, as WorkerHosting.Testing runs an app: nothing here needs a process of its own.
        await using var factory = new WorkersApplicationFactory<Program> { WorkerCount = 3 };
        using var client = factory.CreateClient();
        await factory.WaitForReadyWorkersAsync();

        var counts = new Dictionary<int, List<int>>();
        for (var i = 0; i < 30; i++)
        {
            var value = await client.GetJsonAsync<CounterValue>("/counter");
            (counts.TryGetValue(value.Worker, out var list) ? list : counts[value.Worker] = []).Add(value.Count);
        }

        // A static shared by all workers would count 1..30 across them; each worker counts its own 1..n instead.
        Assert.Equal(3, counts.Count);
        foreach (var (_, values) in counts)
        {
            Assert.Equal(Enumerable.Range(1, values.Count), values);
        }
    }

    [Fact]
    public async Task MainRunsOnceInTheCoordinatorAndOnceInEveryWorker_HostedServicesOnlyInWorkers()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Workers:Count=3"]);
        await using var _ = app;

        Assert.Equal(1, app.CountLines("Main ran as Coordinator -1"));
        Assert.Equal(3, app.CountLines("Main ran as Worker [0-2]"));
        Assert.Equal(3, app.CountLines("Hosted service started as Worker [0-2]"));
        Assert.Equal(0, app.CountLines("Hosted service started as Coordinator"));

        using var client = Http.NewConnectionPerRequest(address);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("started", await client.GetStringAsync("/hosted"));
        }
    }

    [Fact]
    public async Task MinimalApiReturnsJsonOfTheAppsOwnType()
    {
        await using var factory = new WorkersApplicationFactory<Program>();
        using var client = factory.CreateClient();

        var json = await client.GetStringAsync("/json");

        Assert.Equal("""{"date":"2026-11-24","temperatureC":21,"summary":"Mild"}""", json);
    }

    [Fact]
    public async Task MvcAppServesViewsControllersAndStaticFilesFromWorkers()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Mvc);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        var pages = new[] { await client.GetStringAsync("/"), await client.GetStringAsync("/") };
        Assert.All(pages, page => Assert.Contains("<li>Kettle costs 24.50</li>", page, StringComparison.Ordinal));
        Assert.Contains(pages, page => page.Contains("Served by worker 0", StringComparison.Ordinal));
        Assert.Contains(pages, page => page.Contains("Served by worker 1", StringComparison.Ordinal));

        Assert.Equal("""[{"id":1,"name":"Kettle","price":24.50},{"id":2,"name":"Teapot","price":18.00}]""", await client.GetStringAsync("/api/products"));

        using var created = await client.PostAsJsonAsync("/api/products", new { id = 3, name = "Cup", price = 2.5m });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("""{"id":3,"name":"Cup","price":2.5}""", await created.Content.ReadAsStringAsync());

        Assert.Contains("font-family", await client.GetStringAsync("/site.css"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GenericHostBuilderAppRunsWorkersAndTheirBackgroundServices()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.HostBuilder);
        await using var _ = app;
        using var client = Http.NewConnectionPerRequest(address);

        var bodies = new HashSet<string>();
        for (var i = 0; i < 6; i++)
        {
            bodies.Add(await client.GetStringAsync("/"));
        }

        Assert.Equal(["Worker 0 heartbeat=True", "Worker 1 heartbeat=True"], bodies.Order());
        Assert.Equal(2, app.CountLines("Heartbeat from Worker [01]"));
        Assert.Equal(0, app.CountLines("Heartbeat from Coordinator"));

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());
        Assert.Equal(1, app.CountLines("Stopped 2 workers in"));
    }
}
