using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace WorkerHosting.Listeners;

/// <summary>
/// The app's Kestrel socket settings (<see cref="SocketTransportOptions"/>, as set with <c>UseSockets(o =&gt; ...)</c> or
/// <c>Configure&lt;SocketTransportOptions&gt;</c>), read once from the coordinator's services, where Kestrel's own socket
/// transport would have read them: the backlog of the shared listening sockets, <c>NoDelay</c> on every accepted
/// connection, and the options of the factory that turns a handed-off socket into a connection for a worker's Kestrel.
/// </summary>
/// <remarks>
/// <see cref="SocketTransportOptions.CreateBoundListenSocket"/> does not apply: the shared sockets are WorkerHosting's
/// own (SO_REUSEPORT, TCP_DEFER_ACCEPT). Kestrel's internal memory pool factory cannot be copied through the public
/// API; the connection factory uses Kestrel's default pool.
/// </remarks>
internal sealed class SocketTransportSettings
{
    /// <summary>The category Kestrel's socket transport logs to.</summary>
    internal const string ConnectionLoggerCategory = "Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets";

    private readonly int _ioQueueCount;
    private readonly bool _waitForDataBeforeAllocatingBuffer;
    private readonly long? _maxReadBufferSize;
    private readonly long? _maxWriteBufferSize;
    private readonly bool _unsafePreferInlineScheduling;

    public SocketTransportSettings(IOptions<SocketTransportOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);

        // A copy: the options instance is the app's and could change after this reads it.
        var transport = options.Value;
        Backlog = transport.Backlog;
        NoDelay = transport.NoDelay;
        _ioQueueCount = transport.IOQueueCount;
        _waitForDataBeforeAllocatingBuffer = transport.WaitForDataBeforeAllocatingBuffer;
        _maxReadBufferSize = transport.MaxReadBufferSize;
        _maxWriteBufferSize = transport.MaxWriteBufferSize;
        _unsafePreferInlineScheduling = transport.UnsafePreferInlineScheduling;
    }

    /// <summary>The length of each shared listening socket's accept queue (<see cref="SocketTransportOptions.Backlog"/>; Kestrel's default is 512).</summary>
    public int Backlog { get; }

    /// <summary>Whether Nagle's algorithm is off on accepted TCP connections (<see cref="SocketTransportOptions.NoDelay"/>; Kestrel's default is on).</summary>
    public bool NoDelay { get; }

    /// <summary>
    /// New options for a <see cref="SocketConnectionContextFactory"/>, from the app's I/O queue count, buffer sizes and
    /// scheduling (each call returns a new instance: the type is mutable).
    /// </summary>
    public SocketConnectionFactoryOptions CreateConnectionFactoryOptions() => new()
    {
        IOQueueCount = _ioQueueCount,
        WaitForDataBeforeAllocatingBuffer = _waitForDataBeforeAllocatingBuffer,
        MaxReadBufferSize = _maxReadBufferSize,
        MaxWriteBufferSize = _maxWriteBufferSize,
        UnsafePreferInlineScheduling = _unsafePreferInlineScheduling,
    };

    /// <summary>
    /// Creates the factory that wraps each handed-off socket in a connection for a worker's Kestrel, with
    /// <see cref="CreateConnectionFactoryOptions"/>, logging to Kestrel's socket transport category. The caller disposes it.
    /// </summary>
    public SocketConnectionContextFactory CreateConnectionFactory(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);

        return new SocketConnectionContextFactory(CreateConnectionFactoryOptions(), loggerFactory.CreateLogger(ConnectionLoggerCategory));
    }
}
