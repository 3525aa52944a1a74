using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Workers;

internal sealed partial class WorkerRuntime
{
    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.WorkerDrainTimedOut, LogLevel.Error,
            "Worker {WorkerSlot} (generation {Generation}) did not drain within {GracefulTimeout}; aborting {Requests} in-flight requests on {Connections} open connections.",
            EventName = "WorkerDrainTimedOut")]
        public static partial void DrainTimedOut(ILogger logger, int workerSlot, int generation, TimeSpan gracefulTimeout, int requests, int connections);
    }
}
