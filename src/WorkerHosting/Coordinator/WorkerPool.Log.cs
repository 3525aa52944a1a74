using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Coordinator;

internal sealed partial class WorkerPool
{
    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.WorkersDraining, LogLevel.Information,
            "Draining {Count} workers; in-flight requests have {GracefulTimeout} to finish.", EventName = "WorkersDraining")]
        public static partial void WorkersDraining(ILogger logger, int count, TimeSpan gracefulTimeout);

        [LoggerMessage(WorkersEventIds.WorkersStopped, LogLevel.Information,
            "Stopped {Count} workers in {ElapsedMilliseconds:F0} ms.", EventName = "WorkersStopped")]
        public static partial void WorkersStopped(ILogger logger, int count, double elapsedMilliseconds);

        [LoggerMessage(WorkersEventIds.WorkerReady, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) is ready in {ElapsedMilliseconds:F0} ms.", EventName = "WorkerReady")]
        public static partial void WorkerReady(ILogger logger, int workerSlot, int generation, double elapsedMilliseconds);

        [LoggerMessage(WorkersEventIds.WorkerFailedToStart, LogLevel.Error,
            "Worker {WorkerSlot} (generation {Generation}) failed to start.", EventName = "WorkerFailedToStart")]
        public static partial void WorkerFailedToStart(ILogger logger, int workerSlot, int generation, Exception exception);

        [LoggerMessage(WorkersEventIds.WorkerExitedUnexpectedly, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) ended on its own.", EventName = "WorkerExitedUnexpectedly")]
        public static partial void WorkerExitedUnexpectedly(ILogger logger, int workerSlot, int generation, Exception? exception);

        [LoggerMessage(WorkersEventIds.WorkerRestarted, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) replaces the worker that ended.", EventName = "WorkerRestarted")]
        public static partial void WorkerRestarted(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.CrashLoop, LogLevel.Critical,
            "Workers failed more than {MaxFailures} times within {FailureWindow}: a crash loop. Stopping with exit code {ExitCode}; the last failure follows.",
            EventName = "CrashLoop")]
        public static partial void CrashLoop(ILogger logger, int maxFailures, TimeSpan failureWindow, int exitCode, Exception exception);

        [LoggerMessage(WorkersEventIds.ReloadStarting, LogLevel.Information,
            "Reloading {Count} workers, one at a time.", EventName = "ReloadStarting")]
        public static partial void ReloadStarting(ILogger logger, int count);

        [LoggerMessage(WorkersEventIds.ReloadCompleted, LogLevel.Information,
            "Reloaded {Count} workers in {ElapsedMilliseconds:F0} ms.", EventName = "ReloadCompleted")]
        public static partial void ReloadCompleted(ILogger logger, int count, double elapsedMilliseconds);

        [LoggerMessage(WorkersEventIds.ReloadFailed, LogLevel.Warning,
            "The reload stopped after replacing {Replaced} workers, and the other workers keep serving ({Reason}).", EventName = "ReloadFailed")]
        public static partial void ReloadFailed(ILogger logger, int replaced, string reason);

        [LoggerMessage(WorkersEventIds.Scaling, LogLevel.Information,
            "Scaling from {From} to {To} workers.", EventName = "Scaling")]
        public static partial void Scaling(ILogger logger, int from, int to);

        [LoggerMessage(WorkersEventIds.Recycling, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) reached its limit of {RequestLimit} requests (Workers:MaxRequests); replacing it.",
            EventName = "Recycling")]
        public static partial void Recycling(ILogger logger, int workerSlot, int generation, long requestLimit);
    }
}
