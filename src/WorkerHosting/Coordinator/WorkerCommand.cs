using WorkerHosting.Lifecycle;
using WorkerHosting.Workers;

namespace WorkerHosting.Coordinator;

/// <summary>
/// A change for the control loop to apply, in order, one at a time. Commands that are asked for reply through a task; a
/// command the loop never applies (it had stopped) is cancelled.
/// </summary>
internal abstract class WorkerCommand
{
    /// <summary>The loop stopped before it applied the command.</summary>
    public virtual void Cancel()
    {
    }

    /// <summary>Boot the configured number of workers at once.</summary>
    public sealed class Start(TaskCompletionSource reply) : WorkerCommand
    {
        public TaskCompletionSource Reply { get; } = reply;

        public override void Cancel() => Reply.TrySetCanceled();
    }

    /// <summary>Replace every worker, slot by slot.</summary>
    public sealed class Reload(TaskCompletionSource<WorkerReloadResult> reply) : WorkerCommand
    {
        public TaskCompletionSource<WorkerReloadResult> Reply { get; } = reply;

        public override void Cancel() => Reply.TrySetResult(new WorkerReloadResult { Succeeded = false, Error = "The reload did not start: the workers are stopping." });
    }

    /// <summary>Change the worker count to what <see cref="Target"/> makes of the current one.</summary>
    public sealed class Scale(Func<int, int> target, TaskCompletionSource reply) : WorkerCommand
    {
        public Func<int, int> Target { get; } = target;

        public TaskCompletionSource Reply { get; } = reply;

        public override void Cancel() => Reply.TrySetResult();
    }

    /// <summary>Replace a worker that has served its MaxRequests.</summary>
    public sealed class Recycle(IWorkerHandle worker) : WorkerCommand
    {
        public IWorkerHandle Worker { get; } = worker;
    }

    /// <summary>A worker has ended; <see cref="Planned"/> if it had been asked to stop by then (a worker that crashed while being replaced did fail).</summary>
    public sealed class Exited(WorkerEntry worker, bool planned) : WorkerCommand
    {
        public WorkerEntry Worker { get; } = worker;

        public bool Planned { get; } = planned;
    }

    /// <summary>A stopped worker has not ended by its deadline.</summary>
    public sealed class ExitDeadline(WorkerEntry worker) : WorkerCommand
    {
        public WorkerEntry Worker { get; } = worker;
    }

    /// <summary>A restart's attempt: boot the slot's worker, if it still needs one.</summary>
    public sealed class RestartAttempt(WorkerSlot slot, CancellationToken cancellationToken) : WorkerCommand
    {
        public WorkerSlot Slot { get; } = slot;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public TaskCompletionSource<WorkerEntry?> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Cancel() => Reply.TrySetCanceled();
    }

    /// <summary>A slot's restart has ended.</summary>
    public sealed class RestartEnded(WorkerSlot slot) : WorkerCommand
    {
        public WorkerSlot Slot { get; } = slot;
    }

    /// <summary>A valid configuration reload: new options for what comes next.</summary>
    public sealed class ChangeOptions(WorkersOptions options) : WorkerCommand
    {
        public WorkersOptions Options { get; } = options;
    }

    /// <summary>Stop every worker, draining within <see cref="GracefulTimeout"/>; the loop ends once they have.</summary>
    public sealed class Stop(TimeSpan gracefulTimeout, TaskCompletionSource reply) : WorkerCommand
    {
        public TimeSpan GracefulTimeout { get; } = gracefulTimeout;

        public TaskCompletionSource Reply { get; } = reply;

        public override void Cancel() => Reply.TrySetResult();
    }
}
