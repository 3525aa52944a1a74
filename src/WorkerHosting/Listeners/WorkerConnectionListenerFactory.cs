using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using WorkerHosting.Workers;

namespace WorkerHosting.Listeners;

/// <summary>
/// The transport of a worker's Kestrel: each endpoint the worker's server asks for is mapped to the coordinator's
/// socket for it, and connections arrive by hand-off from the coordinator.
/// </summary>
internal sealed class WorkerConnectionListenerFactory(WorkerRuntime runtime) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly Dictionary<string, int> _occurrences = [];

    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint or UnixDomainSocketEndPoint or FileHandleEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        int occurrence;
        lock (_occurrences)
        {
            var key = SharedEndpoints.Key(endpoint);
            _occurrences.TryGetValue(key, out occurrence);
            _occurrences[key] = occurrence + 1;
        }

        var shared = runtime.Endpoints.Resolve(endpoint, occurrence);
        var listener = new WorkerConnectionListener(shared, runtime);
        runtime.AddListener(listener);
        return ValueTask.FromResult<IConnectionListener>(listener);
    }
}
