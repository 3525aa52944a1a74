using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace WorkerHosting.Coordinator;

/// <summary>
/// Decides, once, whether the coordinator runs workers. It does on Kestrel (and in a host with no server, where
/// workers run the app's hosted services); with any other server, such as WebApplicationFactory's test server,
/// the app runs standalone in this host, exactly as it would without UseWorkers.
/// </summary>
/// <remarks>
/// The server is told from its registration where it names a type, without creating it: creating the server creates
/// the logger factory, and an app's logging may ask for <see cref="IWorkerContext"/> while it is configured (Serilog's
/// <c>AddSerilog((services, logger) =&gt; ...)</c> enriching with the worker's id), which would need this decision first.
/// </remarks>
internal sealed class CoordinatorMode(IServiceProvider services, IServiceCollection? registrations = null)
{
    private readonly Lazy<bool> _standalone = new(() =>
    {
        var registration = registrations?.LastOrDefault(d => d.ServiceType == typeof(IServer) && !d.IsKeyedService);
        var serverType = registrations is not null && registration is null
            ? null
            : registration?.ImplementationType ?? registration?.ImplementationInstance?.GetType() ?? services.GetService<IServer>()?.GetType();
        return serverType is not null && serverType.Assembly != typeof(KestrelServerOptions).Assembly;
    });

    public bool IsStandalone => _standalone.Value;

    public IWorkerContext Context => IsStandalone ? Workers.WorkerContext.Standalone : Workers.WorkerContext.Coordinator;
}
