extern alias HostBuilderApp;

using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using MinimalApp;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using WorkerHosting.FunctionalTests.Infrastructure;
using WorkerHosting.Testing;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// WorkersApplicationFactory runs MinimalApp in this test process as production runs it: the coordinator, real workers in
/// their own load contexts, real Kestrel on a free port; and a test's overrides reach every worker.
/// </summary>
public sealed class WorkersApplicationFactoryTests : IClassFixture<WorkersApplicationFactory<Program>>
{
    private readonly WorkersApplicationFactory<Program> _factory;

    public WorkersApplicationFactoryTests(WorkersApplicationFactory<Program> factory) => _factory = factory;

    [Fact]
    public async Task RequestsReachEveryWorker()
    {
        using var client = _factory.CreateClient();
        await _factory.WaitForReadyWorkersAsync();

        var served = await ServedBySlotsAsync(client, 2);

        Assert.Equal([0, 1], served);
        Assert.Equal("127.0.0.1", _factory.ServerAddress.Host);
        Assert.NotEqual(0, _factory.ServerAddress.Port);
    }

    [Fact]
    public async Task AFakeServiceFromTheTestIsWhatEveryWorkerUses()
    {
        await using var factory = _factory.WithWebHostBuilder(builder => builder
            .UseSetting("TestApp:Setting", "from UseSetting")
            .ConfigureAppConfiguration((_, configuration) => configuration.AddInMemoryCollection([new("TestApp:Memory", "from ConfigureAppConfiguration")]))
            .ConfigureTestServices(services => services.Replace(ServiceDescriptor.Singleton<IGreeting, FakeGreeting>())));

        Assert.Equal(["0 hello from the test", "1 hello from the test"], await GreetingsAsync(factory));

        // Each worker in turn takes a new connection: four requests of each kind reach both.
        using var client = factory.CreateClient();
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("from UseSetting", await client.GetStringAsync("/config?key=TestApp:Setting"));
            Assert.Equal("from ConfigureAppConfiguration", await client.GetStringAsync("/config?key=TestApp:Memory"));
            Assert.Equal("Development", await client.GetStringAsync("/environment"));
        }
    }

    [Fact]
    public async Task AReloadServesANewGenerationWithNoFailedRequest()
    {
        await using var factory = _factory.WithWebHostBuilder(_ => { });
        using var client = factory.CreateClient();
        await factory.WaitForReadyWorkersAsync();

        using var traffic = new CancellationTokenSource();
        var senders = Enumerable.Range(0, 4).Select(_ => SendUntilCancelledAsync(client, traffic.Token)).ToArray();
        var result = await factory.Pool.ReloadAsync();
        await factory.WaitForGenerationAsync(0, 2);
        await factory.WaitForGenerationAsync(1, 2);
        traffic.Cancel();
        var outcomes = await Task.WhenAll(senders);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(2, result.Replaced);
        Assert.All(outcomes, o => Assert.Empty(o.Failures));
        Assert.True(outcomes.Sum(o => o.Served) > 0);
        var generations = await GenerationsBySlotAsync(client);
        Assert.Equal(2, generations[0]);
        Assert.Equal(2, generations[1]);
    }

    [Fact]
    public async Task ACrashedWorkerIsReplaced()
    {
        await using var factory = _factory.WithWebHostBuilder(_ => { });
        using var client = factory.CreateClient();
        await factory.WaitForReadyWorkersAsync();

        var exit = await factory.CrashWorkerAsync(1);
        var replacement = await factory.WaitForGenerationAsync(1, exit.Generation + 1);

        Assert.Equal(WorkerExitReason.Failure, exit.Reason);
        Assert.Equal(1, exit.Slot);
        Assert.Equal(WorkerState.Ready, replacement.State);
        Assert.Equal(exit.Generation + 1, (await GenerationsBySlotAsync(client))[1]);
    }

    [Fact]
    public async Task ThePoolScalesUpAndDownAndTheWaitsFollowIt()
    {
        await using var factory = _factory.WithWebHostBuilder(_ => { });
        using var client = factory.CreateClient();
        await factory.WaitForReadyWorkersAsync();

        await factory.Pool.ScaleAsync(3);
        var three = await factory.WaitForReadyWorkersAsync();
        Assert.Equal([0, 1, 2], three.Select(w => w.Slot).Order());
        var servedByThree = await ServedBySlotsAsync(client, 3);
        Assert.Equal([0, 1, 2], servedByThree);

        await factory.Pool.ScaleAsync(1);
        await factory.WaitForReadyWorkersAsync();
        var servedByOne = new HashSet<int>();
        for (var i = 0; i < 20; i++)
        {
            servedByOne.Add((await client.GetFromJsonAsync<WorkerInfo>("/"))!.Slot);
        }

        Assert.Equal([0], servedByOne);
        Assert.Single(factory.Pool.GetWorkers(), w => w.State == WorkerState.Ready);
    }

    [Fact]
    public async Task ALambdaAndAnInstanceFromTheTestReachEveryWorkerWithTheValuesTheyCaptured()
    {
        var text = $"captured {Guid.NewGuid():N}";
        await using var lambda = _factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.Replace(ServiceDescriptor.Singleton<IGreeting>(_ => new TextGreeting(text)))));
        await using var instance = _factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.Replace(ServiceDescriptor.Singleton<IGreeting>(new TextGreeting("an instance")))));

        Assert.Equal([$"0 {text}", $"1 {text}"], await GreetingsAsync(lambda));
        Assert.Equal(["0 an instance", "1 an instance"], await GreetingsAsync(instance));
    }

    [Fact]
    public async Task OptionsConfiguredByTheTestAndAKeyedServiceReachEveryWorker()
    {
        var suffix = Guid.NewGuid().ToString("N");
        await using var factory = _factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => services
            .Configure<GreetingOptions>(options => options.Text = $"configured by the test {suffix}")
            .AddKeyedSingleton<IGreeting>("keyed", new TextGreeting("keyed"))));
        factory.WorkerCount = 3;

        Assert.Equal([$"0 configured by the test {suffix}", $"1 configured by the test {suffix}", $"2 configured by the test {suffix}"], await GreetingsAsync(factory, 3));
        Assert.Equal(3, factory.Pool.GetWorkers().Count);
        using var client = factory.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("keyed", await client.GetStringAsync("/greeting/keyed"));
        }

        Assert.All(factory.Pool.GetWorkers(), w => Assert.True(w.RequestsServed > 0));
    }

    [Fact]
    public async Task AnOverrideThatCapturesTheFactoryFailsTheStartWithAnErrorThatNamesIt()
    {
        await using var factory = _factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.Replace(ServiceDescriptor.Singleton<IGreeting>(_ => new TextGreeting(_factory.ServerAddress.ToString())))));

        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var client = factory.CreateClient();
            await factory.WaitForReadyWorkersAsync();
        });

        Assert.Contains("captures the test's WebApplicationFactory", Flatten(error), StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeepAliveClientsKeepTheirConnectionAndOneWorker()
    {
        await using var factory = _factory.WithWebHostBuilder(_ => { });
        factory.KeepAliveClients = true;
        using var client = factory.CreateClient();
        await factory.WaitForReadyWorkersAsync();

        var slots = new HashSet<int>();
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("/");
            Assert.False(response.Headers.ConnectionClose ?? false);
            slots.Add((await response.Content.ReadFromJsonAsync<WorkerInfo>())!.Slot);
        }

        Assert.Single(slots);
    }

    [Fact]
    public async Task DisposingTheFactoryDrainsARequestInFlight()
    {
        var factory = _factory.WithWebHostBuilder(_ => { });
        using var client = factory.CreateClient();
        await factory.WaitForReadyWorkersAsync();

        using var response = await client.GetAsync("/slow?ms=1500", HttpCompletionOption.ResponseHeadersRead);
        var body = response.Content.ReadAsStringAsync();
        await factory.DisposeAsync();

        Assert.Equal("started\nfinished\n", await body);
    }

    [Fact]
    public async Task AClassicHostBuilderAppGetsTheTestsFakeInEveryWorker()
    {
        await using var factory = new WorkersApplicationFactory<HostBuilderApp::HostBuilderApp.Marker>();
        await using var faked = factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.AddSingleton<HostBuilderApp::HostBuilderApp.IGreeting, ClassicFakeGreeting>()));
        using var client = faked.CreateClient();
        await faked.WaitForReadyWorkersAsync();

        var answers = new HashSet<string>();
        for (var i = 0; i < 200 && answers.Count < 2; i++)
        {
            answers.Add(await client.GetStringAsync("/greeting"));
        }

        Assert.Equal(["0 hello from the test", "1 hello from the test"], answers.Order());
    }

    private static async Task<string[]> GreetingsAsync(WorkersApplicationFactory<Program> factory, int workers = 2)
    {
        using var client = factory.CreateClient();
        await factory.WaitForReadyWorkersAsync();
        var answers = new HashSet<string>();
        for (var i = 0; i < 200 && answers.Count < workers; i++)
        {
            answers.Add(await client.GetStringAsync("/greeting"));
        }

        return [.. answers.Order()];
    }

    private static async Task<Dictionary<int, int>> GenerationsBySlotAsync(HttpClient client)
    {
        var generations = new Dictionary<int, int>();
        for (var i = 0; i < 200 && generations.Count < 2; i++)
        {
            var info = await client.GetFromJsonAsync<WorkerInfo>("/");
            generations[info!.Slot] = info.Generation;
        }

        return generations;
    }

    private static async Task<(int Served, List<string> Failures)> SendUntilCancelledAsync(HttpClient client, CancellationToken stop)
    {
        var served = 0;
        var failures = new List<string>();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var response = await client.GetAsync("/", CancellationToken.None);
                if (response.IsSuccessStatusCode)
                {
                    served++;
                }
                else
                {
                    failures.Add($"{(int)response.StatusCode}");
                }
            }
            catch (HttpRequestException e)
            {
                failures.Add(e.Message);
            }
        }

        return (served, failures);
    }

    private static string Flatten(Exception error)
    {
        var messages = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
            if (e is AggregateException aggregate)
            {
                messages.AddRange(aggregate.InnerExceptions.Select(Flatten));
            }
        }

        return string.Join(" | ", messages);
    }

    private static async Task<int[]> ServedBySlotsAsync(HttpClient client, int count)
    {
        var slots = new HashSet<int>();
        for (var i = 0; i < 200 && slots.Count < count; i++)
        {
            var info = await client.GetFromJsonAsync<WorkerInfo>("/");
            slots.Add(info!.Slot);
        }

        return [.. slots.Order()];
    }
}

/// <summary>HostBuilderApp's greeting, replaced by the test.</summary>
internal sealed class ClassicFakeGreeting : HostBuilderApp::HostBuilderApp.IGreeting
{
    public string Text => "hello from the test";
}

/// <summary>A greeting with the text it was given: registered from a lambda or as an instance.</summary>
internal sealed class TextGreeting(string text) : IGreeting
{
    public string Text { get; } = text;
}

/// <summary>The test's own greeting, registered in place of the app's.</summary>
internal sealed class FakeGreeting : IGreeting
{
    public string Text => "hello from the test";
}
