using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddHttpClient("self")
    .AddStandardResilienceHandler();

var app = builder.Build();

app.MapGet("/", () => "Hello World!");

// Calls this app over HTTP through the resilient client, at the address the request came in on.
app.MapGet("/self", async (HttpRequest request, IHttpClientFactory clients) =>
{
    var client = clients.CreateClient("self");
    return await client.GetStringAsync($"{request.Scheme}://{request.Host}/");
});

app.Run();
