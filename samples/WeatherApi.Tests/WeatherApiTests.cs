using System.Net.Http.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using WorkerHosting.Testing;

namespace WeatherApi.Tests;

// The app as production runs it: the coordinator and its 2 workers (UseWorkers(2) in Program.cs), real Kestrel on a free
// port of 127.0.0.1, in this test process. One app for all the tests of this class; tests that change it make their own.
public class WeatherApiTests(WorkersApplicationFactory<Program> factory) : IClassFixture<WorkersApplicationFactory<Program>>
{
    [Fact]
    public async Task Requests_reach_every_worker()
    {
        // Each request goes on a new connection (the factory's default), so any worker may take it.
        using var client = factory.CreateClient();
        await factory.WaitForReadyWorkersAsync();

        var slots = new HashSet<int>();
        for (var i = 0; i < 100 && slots.Count < 2; i++)
        {
            var worker = await client.GetFromJsonAsync<WorkerInfo>("/worker");
            slots.Add(worker!.Slot);
        }

        Assert.Equal([0, 1], slots.Order());
        var forecast = await client.GetFromJsonAsync<WeatherForecast[]>("/weatherforecast");
        Assert.Equal(5, forecast!.Length);
    }

    [Fact]
    public async Task A_reload_serves_a_new_generation_with_no_failed_request()
    {
        await using var app = factory.WithWebHostBuilder(_ => { });
        using var client = app.CreateClient();
        await app.WaitForReadyWorkersAsync();

        // Clients keep sending while every worker is replaced.
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var failed = 0;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync("/weatherforecast");
                    failed += response.IsSuccessStatusCode ? 0 : 1;
                }
                catch (HttpRequestException)
                {
                    failed++;
                }
            }

            return failed;
        })).ToArray();

        var reload = await app.Pool.ReloadAsync();
        await app.WaitForGenerationAsync(slot: 0, generation: 2);
        await app.WaitForGenerationAsync(slot: 1, generation: 2);
        stop.Cancel();

        Assert.True(reload.Succeeded, reload.Error);
        Assert.Equal(0, (await Task.WhenAll(clients)).Sum());
        Assert.All(app.Pool.GetWorkers().Where(w => w.State == WorkerHosting.WorkerState.Ready), w => Assert.Equal(2, w.Generation));
    }

    [Fact]
    public async Task A_crashed_worker_is_replaced()
    {
        await using var app = factory.WithWebHostBuilder(_ => { });
        using var client = app.CreateClient();
        await app.WaitForReadyWorkersAsync();

        var crash = await app.CrashWorkerAsync(slot: 0);
        await app.WaitForGenerationAsync(slot: 0, generation: crash.Generation + 1);

        var generations = new Dictionary<int, int>();
        for (var i = 0; i < 100 && generations.Count < 2; i++)
        {
            var worker = await client.GetFromJsonAsync<WorkerInfo>("/worker");
            generations[worker!.Slot] = worker.Generation;
        }

        Assert.Equal(WorkerHosting.WorkerExitReason.Failure, crash.Reason);
        Assert.Equal(crash.Generation + 1, generations[0]);
    }

    [Fact]
    public async Task Every_worker_uses_the_fake_forecaster()
    {
        await using var app = factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.Replace(ServiceDescriptor.Singleton<IWeatherForecaster, SunnyForecaster>())));
        using var client = app.CreateClient();
        await app.WaitForReadyWorkersAsync();

        var summaries = new HashSet<string?>();
        for (var i = 0; i < 20; i++)
        {
            var forecast = await client.GetFromJsonAsync<WeatherForecast[]>("/weatherforecast");
            summaries.UnionWith(forecast!.Select(f => f.Summary));
        }

        // Every answer is the fake's, and every worker answered some of them.
        Assert.Equal(["Sunny"], summaries);
        Assert.All(app.Pool.GetWorkers(), worker => Assert.True(worker.RequestsServed > 0, $"Worker {worker.Slot} served no request."));
    }

    private sealed record WorkerInfo(int Slot, int Generation);
}

// The test's forecaster: every day is sunny.
public sealed class SunnyForecaster : IWeatherForecaster
{
    public WeatherForecast[] Forecast(int days) =>
        Enumerable.Range(1, days).Select(day => new WeatherForecast(new DateOnly(2026, 12, day), 25, "Sunny")).ToArray();
}
