using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace WorkerHosting.Listeners;

/// <summary>
/// The transport of the coordinator's own Kestrel. Kestrel resolves the app's endpoints as usual (URLs,
/// <c>Kestrel:Endpoints</c>, code) and binds them here: the sockets are bound and kept in
/// <see cref="SharedEndpoints"/>, and no connection is ever given to the coordinator's own pipeline.
/// </summary>
internal sealed class CoordinatorConnectionListenerFactory(SharedEndpoints endpoints) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint or UnixDomainSocketEndPoint or FileHandleEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var shared = endpoints.Bind(endpoint);
        return ValueTask.FromResult<IConnectionListener>(new CoordinatorConnectionListener(shared.LocalEndPoint));
    }

    /// <summary>A listener that never yields a connection: it only reports the bound endpoint to Kestrel.</summary>
    private sealed class CoordinatorConnectionListener(EndPoint endPoint) : IConnectionListener
    {
        private readonly TaskCompletionSource<ConnectionContext?> _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EndPoint EndPoint { get; } = endPoint;

        public ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
            => new(_unbound.Task.WaitAsync(cancellationToken));

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _unbound.TrySetResult(null);
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _unbound.TrySetResult(null);
            return ValueTask.CompletedTask;
        }
    }
}
