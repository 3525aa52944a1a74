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
        using var client = factory.CreateClient();
        await factory.WaitForReadyWorkersAsync();

        var answers = new HashSet<string>();
        for (var i = 0; i < 200 && answers.Count < 2; i++)
        {
            answers.Add(await client.GetStringAsync("/greeting"));
        }

        Assert.Equal(["0 hello from the test", "1 hello from the test"], answers.Order());
        Assert.Equal("from UseSetting", await client.GetStringAsync("/config?key=TestApp:Setting"));
        Assert.Equal("from ConfigureAppConfiguration", await client.GetStringAsync("/config?key=TestApp:Memory"));
        Assert.Equal("Development", await client.GetStringAsync("/environment"));
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

/// <summary>The test's own greeting, registered in place of the app's.</summary>
internal sealed class FakeGreeting : IGreeting
{
    public string Text => "hello from the test";
}
