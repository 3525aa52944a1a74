using Polly;

namespace WorkerHosting.Lifecycle;

/// <summary>
/// Restarts a slot whose worker failed, through the restart pipeline (exponential, jittered backoff between attempts). It
/// runs beside the control loop, never in it: each attempt asks the loop to boot the slot's worker, then watches that worker
/// for <see cref="WorkerRestartOptions.ResetAfter"/> (its probation). A worker that fails to start, or ends on its own within
/// that time, fails the attempt; one that serves that long ends the restart, so the slot's next failure starts from no delay.
/// </summary>
internal static class SlotRestart
{
    /// <summary>
    /// Runs the restart. <paramref name="attempt"/> boots the slot's worker on the loop and returns it, or null if the slot
    /// needs none any more (scaled away, or filled by a reload); it throws <see cref="WorkerFailedException"/> if the worker
    /// failed to start.
    /// </summary>
    public static async Task RunAsync(
        ResiliencePipeline pipeline,
        WorkerSlot slot,
        Func<WorkerSlot, CancellationToken, Task<WorkerEntry?>> attempt,
        TimeSpan resetAfter,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        await pipeline.ExecuteAsync(
            static async (state, token) =>
            {
                var (slot, attempt, resetAfter, timeProvider) = state;
                var worker = await attempt(slot, token).ConfigureAwait(false);
                if (worker is null)
                {
                    return;
                }

                using var probation = CancellationTokenSource.CreateLinkedTokenSource(token);
                var served = Task.Delay(resetAfter, timeProvider, probation.Token);
                var first = await Task.WhenAny(worker.Handle.Exited, served).ConfigureAwait(false);
                await probation.CancelAsync().ConfigureAwait(false);
                token.ThrowIfCancellationRequested();

                if (first == worker.Handle.Exited && !worker.Handle.ExitPlanned)
                {
                    throw new WorkerFailedException(worker.Handle.Slot, worker.Handle.Generation, started: true,
                        $"Worker {worker.Handle.Slot} (generation {worker.Handle.Generation}) ended within {resetAfter} of starting.",
                        await worker.Handle.Exited.ConfigureAwait(false));
                }
            },
            (slot, attempt, resetAfter, timeProvider),
            cancellationToken).ConfigureAwait(false);
    }
}
