using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Coordinator;

internal sealed partial class WorkerCoordinator
{
    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.WorkersStarting, LogLevel.Information,
            "Starting {Count} workers on {Addresses}.", EventName = "WorkersStarting")]
        public static partial void WorkersStarting(ILogger logger, int count, string addresses);

        [LoggerMessage(WorkersEventIds.WorkersStarted, LogLevel.Information,
            "{Ready} of {Count} workers are ready after {ElapsedMilliseconds:F0} ms.", EventName = "WorkersStarted")]
        public static partial void WorkersStarted(ILogger logger, int ready, int count, double elapsedMilliseconds);

        [LoggerMessage(WorkersEventIds.NoWorkerStarted, LogLevel.Critical,
            "None of the {Count} workers could start; stopping.", EventName = "NoWorkerStarted")]
        public static partial void NoWorkerStarted(ILogger logger, int count);

        [LoggerMessage(WorkersEventIds.WorkersDraining, LogLevel.Information,
            "Draining {Count} workers; in-flight requests have {GracefulTimeout} to finish.", EventName = "WorkersDraining")]
        public static partial void WorkersDraining(ILogger logger, int count, TimeSpan gracefulTimeout);

        [LoggerMessage(WorkersEventIds.WorkersStopped, LogLevel.Information,
            "Stopped {Count} workers in {ElapsedMilliseconds:F0} ms.", EventName = "WorkersStopped")]
        public static partial void WorkersStopped(ILogger logger, int count, double elapsedMilliseconds);

        [LoggerMessage(WorkersEventIds.StandaloneMode, LogLevel.Information,
            "The server is not Kestrel; the app runs standalone in this host, without workers.", EventName = "StandaloneMode")]
        public static partial void StandaloneMode(ILogger logger);

        [LoggerMessage(WorkersEventIds.StoppedAccepting, LogLevel.Information,
            "Stopped accepting connections.", EventName = "StoppedAccepting")]
        public static partial void StoppedAccepting(ILogger logger);

        [LoggerMessage(WorkersEventIds.WorkerExitedUnexpectedly, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) ended on its own.", EventName = "WorkerExitedUnexpectedly")]
        public static partial void WorkerExitedUnexpectedly(ILogger logger, int workerSlot, int generation, Exception? exception);

        [LoggerMessage(WorkersEventIds.NoWorkersLeft, LogLevel.Critical,
            "No worker is left to serve the app; stopping with exit code 3.", EventName = "NoWorkersLeft")]
        public static partial void NoWorkersLeft(ILogger logger);

        [LoggerMessage(WorkersEventIds.WorkerReady, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) is ready in {ElapsedMilliseconds:F0} ms.", EventName = "WorkerReady")]
        public static partial void WorkerReady(ILogger logger, int workerSlot, int generation, double elapsedMilliseconds);

        [LoggerMessage(WorkersEventIds.WorkerFailedToStart, LogLevel.Error,
            "Worker {WorkerSlot} (generation {Generation}) failed to start.", EventName = "WorkerFailedToStart")]
        public static partial void WorkerFailedToStart(ILogger logger, int workerSlot, int generation, Exception exception);

        [LoggerMessage(WorkersEventIds.WorkerUnloaded, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) was unloaded.", EventName = "WorkerUnloaded")]
        public static partial void WorkerUnloaded(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.WorkerUnloadLeaked, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) was unloaded but its load context is still alive: something outside the worker references its code.",
            EventName = "WorkerUnloadLeaked")]
        public static partial void WorkerUnloadLeaked(ILogger logger, int workerSlot, int generation);
    }
}
