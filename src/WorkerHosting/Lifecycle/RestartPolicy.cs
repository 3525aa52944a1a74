using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace WorkerHosting.Lifecycle;

/// <summary>
/// Builds the Polly retry pipeline that restarts a slot: exponential backoff with jitter between attempts, retrying
/// only <see cref="WorkerFailedException"/> (never a cancellation by the coordinator's stop), for as long as the
/// crash-loop detector lets it.
/// </summary>
internal static partial class RestartPolicy
{
    public static ResiliencePipeline Create(WorkerRestartOptions options, TimeProvider timeProvider, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);

        var retry = new RetryStrategyOptions
        {
            // Never a failure that arrives as the restart is cancelled (a stop, a crash loop, a scale-down): it ends the restart.
            ShouldHandle = arguments => ValueTask.FromResult(
                arguments.Outcome.Exception is WorkerFailedException && !arguments.Context.CancellationToken.IsCancellationRequested),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = options.UseJitter,
            Delay = options.Delay,
            MaxDelay = options.MaxDelay,
            OnRetry = arguments =>
            {
                if (arguments.Outcome.Exception is WorkerFailedException { Started: true } ended)
                {
                    // Its end was logged, with its exception, when it happened.
                    Log.RestartingAfterEarlyEnd(logger, ended.Slot, ended.Generation, arguments.AttemptNumber + 1, arguments.RetryDelay);
                }
                else if (arguments.Outcome.Exception is WorkerFailedException failure)
                {
                    Log.Restarting(logger, failure.Slot, failure.Generation, arguments.AttemptNumber + 1, arguments.RetryDelay, failure.InnerException ?? failure);
                }

                return ValueTask.CompletedTask;
            },
        };

        return new ResiliencePipelineBuilder { TimeProvider = timeProvider }.AddRetry(retry).Build();
    }

    private static partial class Log
    {
        [LoggerMessage(Diagnostics.WorkersEventIds.WorkerRestarting, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) failed to start; restarting its slot in {Delay} (attempt {Attempt}).",
            EventName = "WorkerRestarting")]
        public static partial void Restarting(ILogger logger, int workerSlot, int generation, int attempt, TimeSpan delay, Exception exception);

        [LoggerMessage(Diagnostics.WorkersEventIds.WorkerRestartingAfterEarlyEnd, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) ended before it had served long enough (Workers:Restart:ResetAfter); restarting its slot in {Delay} (attempt {Attempt}).",
            EventName = "WorkerRestartingAfterEarlyEnd")]
        public static partial void RestartingAfterEarlyEnd(ILogger logger, int workerSlot, int generation, int attempt, TimeSpan delay);
    }
}
