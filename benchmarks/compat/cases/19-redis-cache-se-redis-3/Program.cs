using Microsoft.Extensions.Caching.Distributed;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddStackExchangeRedisCache(options =>
{
    options.Configuration = builder.Configuration.GetConnectionString("Redis");
    options.InstanceName = "CompatApp:";
});

var app = builder.Build();

app.MapGet("/", () => "Hello World!");
app.MapGet("/cached", async (IDistributedCache cache) =>
{
    var value = await cache.GetStringAsync("now");
    if (value is null)
    {
        value = DateTime.UtcNow.ToString("O");
        await cache.SetStringAsync("now", value, new DistributedCacheEntryOptions
        {
            AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(5),
        });
    }

    return value;
});

app.Run();
