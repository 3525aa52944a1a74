using WorkerHosting.Workers;

namespace WorkerHosting.Lifecycle;

/// <summary>
/// What the lifecycle operations tell the control loop that runs them. Operations call it on the loop's own flow; the
/// calls that come from elsewhere (a worker's request, a timer) only post a command to the loop.
/// </summary>
internal interface ILifecycleEvents
{
    /// <summary>A worker was created: the loop watches for its exit.</summary>
    void OnCreated(WorkerEntry worker);

    /// <summary>A worker failed to start (it counts toward the crash-loop limit).</summary>
    void OnFailed(WorkerFailedException failure);

    /// <summary>A slot's worker failed to start: the slot restarts.</summary>
    void OnSlotFailed(WorkerSlot slot);

    /// <summary>From a worker's request: it has served its MaxRequests (posts a recycle).</summary>
    void OnRequestLimitReached(IWorkerHandle worker);

    /// <summary>From a timer: a stopped worker has not exited by its deadline (posts a command).</summary>
    void OnExitDeadline(WorkerEntry worker);

    /// <summary>Keeps a background task, so that the stop awaits it.</summary>
    void Track(Task task);
}
