namespace WorkerHosting;

/// <summary>
/// Tells the app's code where it runs: in one of the workers, in the coordinator, or standalone.
/// </summary>
/// <remarks>
/// Resolve it from dependency injection (<c>app.Services.GetRequiredService&lt;IWorkerContext&gt;()</c>, or as a
/// minimal API parameter). The app's <c>Main</c> runs once in the coordinator and once in every worker, so
/// once-per-process work such as database migrations belongs behind <c>if (context.Role != WorkerRole.Worker)</c>:
/// that runs in the coordinator before any worker starts, and in a standalone host (for example under
/// <c>WebApplicationFactory</c>'s test server).
/// </remarks>
public interface IWorkerContext
{
    /// <summary>
    /// Gets the worker's slot: a stable number from 0 to the worker count minus one.
    /// </summary>
    /// <value>The slot of this worker; 0 in a standalone host; -1 in the coordinator.</value>
    int Slot { get; }

    /// <summary>
    /// Gets the generation of the worker in its slot, which goes up every time the slot is given a new worker.
    /// </summary>
    /// <value>1 for the first worker in a slot; 0 in the coordinator and in a standalone host.</value>
    int Generation { get; }

    /// <summary>
    /// Gets what this run of the app's code is.
    /// </summary>
    WorkerRole Role { get; }
}
