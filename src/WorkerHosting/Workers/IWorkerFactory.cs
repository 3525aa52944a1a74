namespace WorkerHosting.Workers;

/// <summary>Creates the workers the control loop runs.</summary>
internal interface IWorkerFactory
{
    /// <summary>
    /// Creates (but does not start) the worker of <paramref name="slot"/> and <paramref name="generation"/>, with the
    /// options it runs under. <paramref name="onRequestLimitReached"/> is called once, from a request of the worker, when
    /// it has served its MaxRequests.
    /// </summary>
    IWorkerHandle Create(int slot, int generation, WorkersOptions options, Action<IWorkerHandle> onRequestLimitReached);
}
