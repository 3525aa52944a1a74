using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// An app's existing WebApplicationFactory tests keep working after it adds UseWorkers: under the test server no
/// worker starts and the app is served in-process, hosted services included.
/// </summary>
public sealed class WebApplicationFactoryTests : IClassFixture<WebApplicationFactory<Program>>
{
    private readonly WebApplicationFactory<Program> _factory;

    public WebApplicationFactoryTests(WebApplicationFactory<Program> factory) => _factory = factory;

    [Fact]
    public async Task TheAppIsServedInProcessByTheTestServer()
    {
        using var client = _factory.CreateClient();

        var info = await client.GetJsonAsync<WorkerInfo>("/");

        Assert.Equal(new WorkerInfo(0, 0, "Standalone"), info);
        Assert.Equal("""{"date":"2026-11-24","temperatureC":21,"summary":"Mild"}""", await client.GetStringAsync("/json"));
    }

    [Fact]
    public async Task StaticsAreTheProcessesOwnAndTheWorkerContextResolves()
    {
        using var client = _factory.CreateClient();

        var first = await client.GetJsonAsync<CounterValue>("/counter");
        var second = await client.GetJsonAsync<CounterValue>("/counter");

        Assert.Equal(first.Count + 1, second.Count);
        var context = _factory.Services.GetRequiredService<IWorkerContext>();
        Assert.Equal(WorkerRole.Standalone, context.Role);
    }

    [Fact]
    public async Task TheAppsHostedServicesRunStandalone()
    {
        using var client = _factory.CreateClient();

        Assert.Equal("started", await client.GetStringAsync("/hosted"));
    }
}
