namespace WorkerHosting.Workers;

/// <summary>
/// Follows one connection handed to a worker: whether its first request has begun, and when it closes.
/// Kept in the connection's items so the request middleware finds it without a lookup table of its own.
/// </summary>
internal sealed class ConnectionTracker
{
    public static readonly object ItemKey = typeof(ConnectionTracker);

    private const int AwaitingFirstRequest = 0;
    private const int Serving = 1;
    private const int Closed = 2;

    private readonly WorkerRuntime _runtime;
    private int _state;

    public ConnectionTracker(WorkerRuntime runtime) => _runtime = runtime;

    public void OnRequest()
    {
        if (Volatile.Read(ref _state) == AwaitingFirstRequest &&
            Interlocked.CompareExchange(ref _state, Serving, AwaitingFirstRequest) == AwaitingFirstRequest)
        {
            _runtime.OnFirstRequestSeen();
        }
    }

    public void OnClosed()
    {
        if (Interlocked.Exchange(ref _state, Closed) == AwaitingFirstRequest)
        {
            _runtime.OnFirstRequestSeen();
        }

        _runtime.OnConnectionClosed();
    }
}
