using Grpc.Core;
using RealWorldApp.Greet;
using WorkerHosting;

namespace RealWorldApp.Services;

public sealed class GreeterService(IWorkerContext worker, AppTelemetry telemetry, ILogger<GreeterService> logger) : Greeter.GreeterBase
{
    public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
    {
        using var activity = AppTelemetry.ActivitySource.StartActivity("Greet");
        activity?.SetTag("greet.name", request.Name);
        telemetry.Greeted();
        logger.LogDebug("Greeting {Name}.", request.Name);
        return Task.FromResult(new HelloReply { Message = "Hello " + request.Name, Slot = worker.Slot, Generation = worker.Generation });
    }
}
