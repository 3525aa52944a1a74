using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddOpenTelemetry()
    .ConfigureResource(resource => resource.AddService(builder.Environment.ApplicationName))
    .WithTracing(tracing => tracing
        .AddAspNetCoreInstrumentation()
        .AddHttpClientInstrumentation()
        .AddOtlpExporter());

builder.Services.AddHttpClient();

var app = builder.Build();

app.MapGet("/", () => "Hello World!");

app.MapGet("/self", async (HttpRequest request, IHttpClientFactory clients) =>
    await clients.CreateClient().GetStringAsync($"{request.Scheme}://{request.Host}/"));

app.Run();
