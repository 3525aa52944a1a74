using System.Globalization;
using FluentValidation;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using RealWorldApp.Data;
using RealWorldApp.Services;
using Serilog;
using WorkerHosting;

// An app as a team writes one for production: EF Core on SQLite, OpenTelemetry, Serilog, Swagger, a resilient
// HttpClient, SignalR, gRPC, output caching, rate limiting, a memory cache, a background service and FluentValidation.
// Endpoints come from Kestrel:Endpoints (appsettings.json): "Http" (HTTP/1.1) and "Grpc" (HTTP/2 only, since
// gRPC over cleartext needs HTTP/2 with prior knowledge).
var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddSerilog((services, logger) => logger
    .ReadFrom.Configuration(builder.Configuration)
    .ReadFrom.Services(services)
    .Enrich.FromLogContext()
    .WriteTo.Console(formatProvider: CultureInfo.InvariantCulture));

builder.Services.AddDbContext<BloggingContext>(options => options.UseSqlite(builder.Configuration.GetConnectionString("Default")));

var otlpEndpoint = new Uri(builder.Configuration["Otlp:Endpoint"] ?? "http://127.0.0.1:4317");
builder.Services.AddOpenTelemetry()
    .ConfigureResource(resource => resource.AddService(AppTelemetry.Name))
    .WithMetrics(metrics => metrics
        .AddAspNetCoreInstrumentation()
        .AddHttpClientInstrumentation()
        .AddMeter(AppTelemetry.Name)
        .AddPrometheusExporter()
        .AddOtlpExporter(otlp => otlp.Endpoint = otlpEndpoint))
    .WithTracing(tracing => tracing
        .AddAspNetCoreInstrumentation()
        .AddHttpClientInstrumentation()
        .AddSource(AppTelemetry.Name)
        .AddOtlpExporter(otlp => otlp.Endpoint = otlpEndpoint));
builder.Services.AddSingleton<AppTelemetry>();

builder.Services.AddEndpointsApiExplorer();
builder.Services.AddSwaggerGen();

builder.Services.AddHttpClient("self").AddStandardResilienceHandler();

builder.Services.AddSignalR();
builder.Services.AddGrpc();

builder.Services.AddOutputCache();
builder.Services.AddMemoryCache();
builder.Services.AddRateLimiter(options =>
{
    options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
    options.AddFixedWindowLimiter("fixed", limiter =>
    {
        limiter.PermitLimit = builder.Configuration.GetValue("RateLimiting:PermitLimit", 1000);
        limiter.Window = builder.Configuration.GetValue("RateLimiting:Window", TimeSpan.FromSeconds(10));
        limiter.QueueLimit = 0;
    });
});

builder.Services.AddSingleton<TickCounter>();
builder.Services.AddHostedService<TickService>();

builder.Services.AddValidatorsFromAssemblyContaining<CreatePostValidator>();

var app = builder.Build();

var context = app.Services.GetRequiredService<IWorkerContext>();
if (context.Role != WorkerRole.Worker)
{
    // Once per process, in the coordinator, before any worker starts.
    await using var scope = app.Services.CreateAsyncScope();
    var db = scope.ServiceProvider.GetRequiredService<BloggingContext>();
    await db.Database.EnsureCreatedAsync();
    app.Logger.LogInformation("Database {Database} is ready.", db.Database.GetDbConnection().DataSource);
}

app.UseSerilogRequestLogging();
app.UseSwagger();
app.UseSwaggerUI();
app.UseRateLimiter();
app.UseOutputCache();

app.MapPrometheusScrapingEndpoint();

app.MapGet("/worker", (IWorkerContext worker) => new WorkerInfo(worker.Slot, worker.Generation, worker.Role.ToString()));

var blogs = app.MapGroup("/blogs").WithTags("Blogs");
blogs.MapGet("/", async (BloggingContext db, CancellationToken cancellationToken) =>
    (await db.Blogs.AsNoTracking().Include(b => b.Posts).OrderBy(b => b.Id).ToListAsync(cancellationToken)).Select(b => b.ToDto()));
blogs.MapGet("/{id:int}", async Task<IResult> (int id, BloggingContext db, CancellationToken cancellationToken) =>
    await db.Blogs.AsNoTracking().Include(b => b.Posts).SingleOrDefaultAsync(b => b.Id == id, cancellationToken) is { } blog
        ? TypedResults.Ok(blog.ToDto())
        : TypedResults.NotFound());
blogs.MapPost("/", async Task<IResult> (CreateBlogRequest request, IValidator<CreateBlogRequest> validator, BloggingContext db, CancellationToken cancellationToken) =>
{
    var validation = await validator.ValidateAsync(request, cancellationToken);
    if (!validation.IsValid)
    {
        return TypedResults.ValidationProblem(validation.ToDictionary());
    }

    var blog = new Blog { Name = request.Name };
    db.Blogs.Add(blog);
    await db.SaveChangesAsync(cancellationToken);
    return TypedResults.Created($"/blogs/{blog.Id}", blog.ToDto());
});
blogs.MapPost("/{id:int}/posts", async Task<IResult> (int id, CreatePostRequest request, IValidator<CreatePostRequest> validator,
    BloggingContext db, AppTelemetry telemetry, IWorkerContext worker, TimeProvider time, CancellationToken cancellationToken) =>
{
    var validation = await validator.ValidateAsync(request, cancellationToken);
    if (!validation.IsValid)
    {
        return TypedResults.ValidationProblem(validation.ToDictionary());
    }

    using var activity = AppTelemetry.ActivitySource.StartActivity("CreatePost");
    activity?.SetTag("blog.id", id);
    if (!await db.Blogs.AnyAsync(b => b.Id == id, cancellationToken))
    {
        return TypedResults.NotFound();
    }

    var post = new Post { BlogId = id, Title = request.Title, Content = request.Content, CreatedAt = time.GetUtcNow(), CreatedByWorker = worker.Slot };
    db.Posts.Add(post);
    await db.SaveChangesAsync(cancellationToken);
    telemetry.PostCreated(id);
    return TypedResults.Created($"/blogs/{id}", post.ToDto());
});

// Calls this app over HTTP through the resilient client: the address the request came in on, unless configured.
app.MapGet("/self", async (HttpRequest request, IHttpClientFactory clients, IConfiguration configuration, IWorkerContext worker, CancellationToken cancellationToken) =>
{
    var baseAddress = new Uri(configuration["SelfCall:BaseAddress"] ?? $"{request.Scheme}://{request.Host}");
    var client = clients.CreateClient("self");
    var answer = await client.GetFromJsonAsync<WorkerInfo>(new Uri(baseAddress, "/worker"), cancellationToken)
        ?? throw new InvalidOperationException("/worker answered null.");
    return new SelfCallResult(worker.Slot, answer);
});

app.MapGet("/cached/output", (IWorkerContext worker, TimeProvider time) => new CachedValue(worker.Slot, Guid.NewGuid(), time.GetUtcNow()))
    .CacheOutput(policy => policy.Expire(TimeSpan.FromMinutes(5)));

app.MapGet("/cached/memory", (IMemoryCache cache, IWorkerContext worker, TimeProvider time) =>
    cache.GetOrCreate("value", entry =>
    {
        entry.AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(5);
        return new CachedValue(worker.Slot, Guid.NewGuid(), time.GetUtcNow());
    }));

app.MapGet("/limited", (IWorkerContext worker) => new WorkerInfo(worker.Slot, worker.Generation, worker.Role.ToString()))
    .RequireRateLimiting("fixed");

app.MapGet("/ticks", (TickCounter counter, IWorkerContext worker) => new TickCount(worker.Slot, counter.Ticks));

// Answers after the background service's next tick, so a client waits for a tick instead of polling /ticks.
app.MapGet("/ticks/next", async (TickCounter counter, IWorkerContext worker, CancellationToken aborted) =>
{
    await counter.NextTickAsync(aborted);
    return new TickCount(worker.Slot, counter.Ticks);
});

app.MapHub<EchoHub>("/hubs/echo");
app.MapGrpcService<GreeterService>();

app.Run();

internal sealed record WorkerInfo(int Slot, int Generation, string Role);

internal sealed record SelfCallResult(int CalledFrom, WorkerInfo AnsweredBy);

internal sealed record CachedValue(int Worker, Guid Value, DateTimeOffset CreatedAt);

internal sealed record TickCount(int Worker, long Ticks);
