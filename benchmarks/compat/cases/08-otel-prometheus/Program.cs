using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddOpenTelemetry()
    .ConfigureResource(resource => resource.AddService(builder.Environment.ApplicationName))
    .WithMetrics(metrics => metrics
        .AddAspNetCoreInstrumentation()
        .AddHttpClientInstrumentation()
        .AddPrometheusExporter());

builder.Services.AddHttpClient();

var app = builder.Build();

app.MapPrometheusScrapingEndpoint();

app.MapGet("/", () => "Hello World!");

app.MapGet("/self", async (HttpRequest request, IHttpClientFactory clients) =>
    await clients.CreateClient().GetStringAsync($"{request.Scheme}://{request.Host}/"));

app.Run();
