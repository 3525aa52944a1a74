using Hangfire;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddHangfire(configuration => configuration
    .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
    .UseSimpleAssemblyNameTypeSerializer()
    .UseRecommendedSerializerSettings()
    .UseInMemoryStorage());
builder.Services.AddHangfireServer();

var app = builder.Build();

app.UseHangfireDashboard();

app.MapGet("/", () => "Hello World!");
app.MapPost("/jobs", (IBackgroundJobClient jobs) => jobs.Enqueue<Greeter>(g => g.Greet("Ada")));

app.Run();

public class Greeter(ILogger<Greeter> logger)
{
    public void Greet(string name) => logger.LogInformation("Hello {Name} from a Hangfire job", name);
}
