namespace WorkerHosting.Coordinator;

/// <summary>
/// Where the process is in its stop, as the workers read it: once the stop has begun the readiness check is unhealthy,
/// and while the shutdown delay runs every worker asks its clients to move to new connections.
/// </summary>
internal sealed class ShutdownState
{
    private int _stopping;
    private int _clientsAskedToLeave;
    private int _handedOver;

    /// <summary>Whether the process has begun to stop (readiness is over).</summary>
    public bool IsStopping => Volatile.Read(ref _stopping) == 1;

    /// <summary>
    /// Whether every worker asks its clients to leave: HTTP/1.1 responses carry <c>Connection: close</c>, HTTP/2
    /// connections get GOAWAY with their next request.
    /// </summary>
    public bool ClientsAskedToLeave => Volatile.Read(ref _clientsAskedToLeave) == 1;

    /// <summary>
    /// Whether a hot upgrade handed the listening sockets to the next process: this one stops without a shutdown delay,
    /// leaves its queued connections to the next, and tells systemd nothing more (the next process is its main process).
    /// </summary>
    public bool HandedOver => Volatile.Read(ref _handedOver) == 1;

    public void BeginStopping() => Volatile.Write(ref _stopping, 1);

    public void HandOver() => Volatile.Write(ref _handedOver, 1);

    public void AskClientsToLeave()
    {
        BeginStopping();
        Volatile.Write(ref _clientsAskedToLeave, 1);
    }
}
