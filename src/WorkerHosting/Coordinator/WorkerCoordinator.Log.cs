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

        [LoggerMessage(WorkersEventIds.StandaloneMode, LogLevel.Information,
            "The server is not Kestrel; the app runs standalone in this host, without workers.", EventName = "StandaloneMode")]
        public static partial void StandaloneMode(ILogger logger);

        [LoggerMessage(WorkersEventIds.ShutdownDelayStarted, LogLevel.Information,
            "Stopping after a shutdown delay of {Delay}: readiness is unhealthy, and the workers keep serving while asking clients to reconnect. A second SIGTERM or SIGINT ends the delay.", EventName = "ShutdownDelayStarted")]
        public static partial void ShutdownDelayStarted(ILogger logger, TimeSpan delay);

        [LoggerMessage(WorkersEventIds.ShutdownDelayEnded, LogLevel.Information,
            "Received {Signal} again: the shutdown delay ends now.", EventName = "ShutdownDelayEnded")]
        public static partial void ShutdownDelayEnded(ILogger logger, string signal);

        [LoggerMessage(WorkersEventIds.PidFileFailed, LogLevel.Error,
            "Could not write the PID file '{Path}' (Workers:PidFile).", EventName = "PidFileFailed")]
        public static partial void PidFileFailed(ILogger logger, string path, Exception exception);

        [LoggerMessage(WorkersEventIds.UpgradingForLeaks, LogLevel.Warning,
            "More than {Limit} stopped workers stay in memory: replacing the process by a hot upgrade (Workers:UpgradeOnLeakLimit).", EventName = "UpgradingForLeaks")]
        public static partial void UpgradingForLeaks(ILogger logger, int limit);

        [LoggerMessage(WorkersEventIds.StoppedAccepting, LogLevel.Information,
            "Stopped accepting connections.", EventName = "StoppedAccepting")]
        public static partial void StoppedAccepting(ILogger logger);

        [LoggerMessage(WorkersEventIds.SignalReceived, LogLevel.Information,
            "Received {Signal}.", EventName = "SignalReceived")]
        public static partial void SignalReceived(ILogger logger, string signal);

        [LoggerMessage(WorkersEventIds.SignalIgnored, LogLevel.Information,
            "Ignored {Signal}: the workers are stopping.", EventName = "SignalIgnored")]
        public static partial void SignalIgnored(ILogger logger, string signal);

        [LoggerMessage(WorkersEventIds.FastStop, LogLevel.Information,
            "Received SIGQUIT: stopping without waiting for in-flight requests.", EventName = "FastStop")]
        public static partial void FastStop(ILogger logger);

        [LoggerMessage(WorkersEventIds.WatchTriggered, LogLevel.Information,
            "The app's files in {Directory} changed; reloading the workers.", EventName = "WatchTriggered")]
        public static partial void WatchTriggered(ILogger logger, string directory);

        [LoggerMessage(WorkersEventIds.OptionsReloadRejected, LogLevel.Warning,
            "The changed Workers configuration is invalid and was not applied; the last valid options stay in effect ({Reason}).",
            EventName = "OptionsReloadRejected")]
        public static partial void OptionsReloadRejected(ILogger logger, string reason);
    }
}
