using Mediator;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddMediator(options => options.ServiceLifetime = ServiceLifetime.Scoped);

var app = builder.Build();

app.MapGet("/", () => "Hello World!");
app.MapGet("/ping/{message}", async (string message, IMediator mediator) =>
{
    var pong = await mediator.Send(new Ping(message));
    await mediator.Publish(new Pinged(message));
    return pong;
});

app.Run();

public sealed record Ping(string Message) : IRequest<Pong>;

public sealed record Pong(string Message);

public sealed record Pinged(string Message) : INotification;

public sealed class PingHandler : IRequestHandler<Ping, Pong>
{
    public ValueTask<Pong> Handle(Ping request, CancellationToken cancellationToken) => new(new Pong(request.Message));
}

public sealed class PingedHandler(ILogger<PingedHandler> logger) : INotificationHandler<Pinged>
{
    public ValueTask Handle(Pinged notification, CancellationToken cancellationToken)
    {
        logger.LogDebug("Pinged with {Message}", notification.Message);
        return ValueTask.CompletedTask;
    }
}
