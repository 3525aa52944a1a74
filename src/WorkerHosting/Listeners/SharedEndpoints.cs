using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Listeners;

/// <summary>
/// The coordinator's listening sockets, in the order its server bound them. A worker's server resolves the same
/// endpoints from the same configuration and asks for them in the same order; it is given the coordinator's
/// socket for each, so port 0 is resolved once and every worker listens on the resolved port.
/// </summary>
internal sealed partial class SharedEndpoints : IDisposable
{
    private readonly SocketTransportSettings _settings;
    private readonly ILogger<SharedEndpoints> _logger;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private readonly List<Binding> _bindings = [];
    private readonly Dictionary<string, int> _inherited;
    private bool _disposed;

    public SharedEndpoints(SocketTransportSettings settings, ILogger<SharedEndpoints> logger, TimeProvider timeProvider)
        : this(settings, logger, timeProvider, InheritedSockets.TakeFromEnvironment())
    {
    }

    /// <summary>
    /// <paramref name="inherited"/>: the listening sockets a previous process passed in a hot upgrade, by endpoint key and
    /// occurrence; they are adopted instead of bound.
    /// </summary>
    internal SharedEndpoints(SocketTransportSettings settings, ILogger<SharedEndpoints> logger, TimeProvider timeProvider, Dictionary<string, int> inherited)
    {
        _settings = settings;
        _logger = logger;
        _timeProvider = timeProvider;
        _inherited = inherited;
    }

    /// <summary>Whether this process was started by a hot upgrade, with the previous process's sockets.</summary>
    public bool Inherited => _inherited.Count > 0;

    /// <summary>Each listening socket with the key the next process finds it by (its endpoint key and occurrence).</summary>
    public IReadOnlyList<(string Key, SharedListener Listener)> Handoverable
    {
        get
        {
            lock (_lock)
            {
                var seen = new Dictionary<string, int>(StringComparer.Ordinal);
                var sockets = new List<(string, SharedListener)>();
                foreach (var binding in _bindings)
                {
                    var occurrence = seen.GetValueOrDefault(binding.Key);
                    seen[binding.Key] = occurrence + 1;
                    if (binding.Listener is { } listener)
                    {
                        sockets.Add((InheritedSockets.Key(binding.Key, occurrence), listener));
                    }
                }

                return sockets;
            }
        }
    }

    public IReadOnlyList<SharedListener> Listeners
    {
        get
        {
            lock (_lock)
            {
                return [.. _bindings.Where(b => b.Listener is not null).Select(b => b.Listener!)];
            }
        }
    }

    /// <summary>Binds the endpoint for the life of the process. Called by the coordinator's server.</summary>
    public SharedListener Bind(EndPoint endpoint)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);

        Socket socket;
        try
        {
            socket = TryAdoptInherited(endpoint) ?? ListenSocketFactory.CreateBoundSocket(endpoint, _settings.Backlog);
        }
        catch (Exception e)
        {
            // Remember the failure so a worker asking for the same endpoint fails the same way (Kestrel tolerates,
            // for example, a missing IPv6 loopback when it binds 'localhost').
            lock (_lock)
            {
                _bindings.Add(new Binding(Key(endpoint), null, e));
            }

            throw;
        }

        var listener = new SharedListener(endpoint, socket, _settings, _logger, _timeProvider);
        lock (_lock)
        {
            _bindings.Add(new Binding(Key(endpoint), listener, null));
        }

        Log.EndpointBound(_logger, endpoint, listener.LocalEndPoint);
        return listener;
    }

    /// <summary>
    /// Finds the coordinator's socket for the <paramref name="occurrence"/>-th request of <paramref name="endpoint"/>
    /// by a worker's server.
    /// </summary>
    public SharedListener Resolve(EndPoint endpoint, int occurrence)
    {
        var key = Key(endpoint);
        Binding? binding = null;
        lock (_lock)
        {
            var seen = 0;
            foreach (var candidate in _bindings)
            {
                if (candidate.Key == key && seen++ == occurrence)
                {
                    binding = candidate;
                    break;
                }
            }
        }

        if (binding is null)
        {
            throw new InvalidOperationException(
                $"A worker asked to listen on '{endpoint}', which the coordinator did not bind. Workers listen only on the endpoints the coordinator bound at start; configure endpoints the same way for every run of the app (configuration, or code that does not depend on the worker).");
        }

        if (binding.Failure is { } failure)
        {
            throw failure switch
            {
                AddressInUseException e => new AddressInUseException(e.Message, e),
                SocketException e => new SocketException((int)e.SocketErrorCode),
                _ => new InvalidOperationException($"The coordinator could not bind '{endpoint}': {failure.Message}", failure),
            };
        }

        return binding.Listener!;
    }

    public void StartAccepting()
    {
        foreach (var listener in Listeners)
        {
            listener.StartAccepting();
        }
    }

    public Task StopAcceptingAsync(bool leaveQueued = false) => Task.WhenAll(Listeners.Select(l => l.StopAcceptingAsync(leaveQueued)));

    public void Dispose()
    {
        SharedListener[] listeners;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            listeners = [.. _bindings.Where(b => b.Listener is not null).Select(b => b.Listener!)];
        }

        foreach (var listener in listeners)
        {
            listener.Dispose();
        }
    }

    /// <summary>The socket the previous process passed for this endpoint (its same occurrence), if any.</summary>
    private Socket? TryAdoptInherited(EndPoint endpoint)
    {
        if (_inherited.Count == 0)
        {
            return null;
        }

        var key = Key(endpoint);
        int occurrence;
        lock (_lock)
        {
            occurrence = _bindings.Count(b => b.Key == key);
        }

        return _inherited.Remove(InheritedSockets.Key(key, occurrence), out var descriptor) ? InheritedSockets.Adopt(descriptor) : null;
    }

    /// <summary>What identifies an endpoint a server asks for: its family and address, or the file handle it names.</summary>
    internal static string Key(EndPoint endpoint) => endpoint is FileHandleEndPoint handle
        ? $"fd|{handle.FileHandle}"
        : $"{endpoint.AddressFamily}|{endpoint}";

    private sealed record Binding(string Key, SharedListener? Listener, Exception? Failure);

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.EndpointBound, LogLevel.Debug,
            "Bound shared endpoint {RequestedEndPoint} as {LocalEndPoint}.", EventName = "EndpointBound")]
        public static partial void EndpointBound(ILogger logger, EndPoint requestedEndPoint, EndPoint localEndPoint);
    }
}
