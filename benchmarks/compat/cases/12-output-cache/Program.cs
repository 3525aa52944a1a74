using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddOutputCache(options =>
    options.AddBasePolicy(policy => policy.Expire(TimeSpan.FromSeconds(10))));

var app = builder.Build();

app.UseOutputCache();

app.MapGet("/", () => "Hello World!");
app.MapGet("/cached", () => new CachedTime(DateTime.UtcNow)).CacheOutput();

app.Run();

record CachedTime(DateTime At);
