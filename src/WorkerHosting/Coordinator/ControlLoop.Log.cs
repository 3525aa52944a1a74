using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Coordinator;

internal sealed partial class ControlLoop
{
    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.CommandFailed, LogLevel.Error,
            "The workers' control loop failed to apply {Command}; it goes on with the next command.", EventName = "CommandFailed")]
        public static partial void CommandFailed(ILogger logger, string command, Exception exception);

        [LoggerMessage(WorkersEventIds.WorkersDraining, LogLevel.Information,
            "Draining {Count} workers; in-flight requests have {GracefulTimeout} to finish.", EventName = "WorkersDraining")]
        public static partial void WorkersDraining(ILogger logger, int count, TimeSpan gracefulTimeout);

        [LoggerMessage(WorkersEventIds.WorkersStopped, LogLevel.Information,
            "Stopped {Count} workers in {ElapsedMilliseconds:F0} ms.", EventName = "WorkersStopped")]
        public static partial void WorkersStopped(ILogger logger, int count, double elapsedMilliseconds);

        [LoggerMessage(WorkersEventIds.WorkerStopped, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) stopped in {ElapsedMilliseconds:F0} ms after serving {RequestsServed} requests.",
            EventName = "WorkerStopped")]
        public static partial void WorkerStopped(ILogger logger, int workerSlot, int generation, double elapsedMilliseconds, long requestsServed);

        [LoggerMessage(WorkersEventIds.WorkerExitedUnexpectedly, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) ended on its own.", EventName = "WorkerExitedUnexpectedly")]
        public static partial void WorkerExitedUnexpectedly(ILogger logger, int workerSlot, int generation, Exception? exception);

        [LoggerMessage(WorkersEventIds.WorkerDidNotExit, LogLevel.Error,
            "Worker {WorkerSlot} (generation {Generation}) did not exit within {Elapsed} of being asked to stop; giving up on it: its threads and memory stay until the process ends.",
            EventName = "WorkerDidNotExit")]
        public static partial void WorkerDidNotExit(ILogger logger, int workerSlot, int generation, TimeSpan elapsed);

        [LoggerMessage(WorkersEventIds.WorkerExitedAfterGivenUp, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) exited after it had been given up; unloading it.", EventName = "WorkerExitedAfterGivenUp")]
        public static partial void WorkerExitedAfterGivenUp(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.WorkerRestarted, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) replaces the worker that ended.", EventName = "WorkerRestarted")]
        public static partial void WorkerRestarted(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.CrashLoop, LogLevel.Critical,
            "Workers failed more than {MaxFailures} times within {FailureWindow}: a crash loop. Stopping with exit code {ExitCode}; the last failure follows.",
            EventName = "CrashLoop")]
        public static partial void CrashLoop(ILogger logger, int maxFailures, TimeSpan failureWindow, int exitCode, Exception exception);
    }
}
