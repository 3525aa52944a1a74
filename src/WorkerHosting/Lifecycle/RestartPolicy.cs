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
            ShouldHandle = new PredicateBuilder().Handle<WorkerFailedException>(),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = options.UseJitter,
            Delay = options.Delay,
            MaxDelay = options.MaxDelay,
            OnRetry = arguments =>
            {
                if (arguments.Outcome.Exception is WorkerFailedException failure)
                {
                    Log.Restarting(logger, failure.Slot, failure.Generation, arguments.AttemptNumber + 1, arguments.RetryDelay, failure);
                }

                return ValueTask.CompletedTask;
            },
        };

        return new ResiliencePipelineBuilder { TimeProvider = timeProvider }.AddRetry(retry).Build();
    }

    private static partial class Log
    {
        [LoggerMessage(Diagnostics.WorkersEventIds.WorkerRestarting, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) failed; restarting its slot in {Delay} (attempt {Attempt}).",
            EventName = "WorkerRestarting")]
        public static partial void Restarting(ILogger logger, int workerSlot, int generation, int attempt, TimeSpan delay, Exception exception);
    }
}
