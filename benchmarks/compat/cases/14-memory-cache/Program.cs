using Microsoft.Extensions.Caching.Memory;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddMemoryCache();

var app = builder.Build();

app.MapGet("/", () => "Hello World!");
app.MapGet("/cached", (IMemoryCache cache) =>
    cache.GetOrCreate("now", entry =>
    {
        entry.AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(5);
        return new CachedTime(DateTime.UtcNow);
    }));

app.Run();

record CachedTime(DateTime At);
