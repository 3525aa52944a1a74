using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace WorkerHosting.Coordinator;

/// <summary>
/// Decides, once, whether the coordinator runs workers. It does on Kestrel (and in a host with no server, where
/// workers run the app's hosted services); with any other server, such as WebApplicationFactory's test server,
/// the app runs standalone in this host, exactly as it would without UseWorkers.
/// </summary>
internal sealed class CoordinatorMode(IServiceProvider services)
{
    private readonly Lazy<bool> _standalone = new(() =>
    {
        var server = services.GetService<IServer>();
        return server is not null && server.GetType().Assembly != typeof(KestrelServerOptions).Assembly;
    });

    public bool IsStandalone => _standalone.Value;

    public IWorkerContext Context => IsStandalone ? Workers.WorkerContext.Standalone : Workers.WorkerContext.Coordinator;
}
