using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Workers;

internal sealed partial class UnloadVerifier
{
    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.WorkerUnloaded, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) was unloaded.", EventName = "WorkerUnloaded")]
        public static partial void WorkerUnloaded(ILogger logger, int workerSlot, int generation);

        [LoggerMessage(WorkersEventIds.WorkerUnloadLeaked, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) was unloaded but its load context is still alive, holding about {EstimatedMegabytes:F1} MB of managed memory (its compiled code and type data come on top): {HeldBy}.",
            EventName = "WorkerUnloadLeaked")]
        public static partial void WorkerUnloadLeaked(ILogger logger, int workerSlot, int generation, double estimatedMegabytes, string heldBy);

        [LoggerMessage(WorkersEventIds.WorkerKept, LogLevel.Warning,
            "Worker {WorkerSlot} (generation {Generation}) is not unloaded and stays in memory, at least {EstimatedMegabytes:F1} MB: {KeptBecause}.",
            EventName = "WorkerKept")]
        public static partial void WorkerKept(ILogger logger, int workerSlot, int generation, double estimatedMegabytes, string keptBecause);

        [LoggerMessage(WorkersEventIds.WorkerUnloadedLate, LogLevel.Information,
            "Worker {WorkerSlot} (generation {Generation}) was unloaded {Elapsed} after it was found alive.", EventName = "WorkerUnloadedLate")]
        public static partial void WorkerUnloadedLate(ILogger logger, int workerSlot, int generation, TimeSpan elapsed);

        [LoggerMessage(WorkersEventIds.LeakedWorkersLimitExceeded, LogLevel.Error,
            "{Count} stopped workers are still in memory (more than Workers:MaxLeakedWorkers, {Limit}), holding about {EstimatedMegabytes:F1} MB that reloads and recycling will not give back: replace the process (a rolling restart by its supervisor) and fix what holds them (the warnings above say what).",
            EventName = "LeakedWorkersLimitExceeded")]
        public static partial void LeakedWorkersLimitExceeded(ILogger logger, int count, int limit, double estimatedMegabytes);

        [LoggerMessage(WorkersEventIds.WorkerRegistrationsReleased, LogLevel.Debug,
            "Worker {WorkerSlot} (generation {Generation}) left {Count} process-wide registrations behind; released: {Registrations}.",
            EventName = "WorkerRegistrationsReleased")]
        public static partial void RegistrationsReleased(ILogger logger, int workerSlot, int generation, int count, string registrations);
    }
}
