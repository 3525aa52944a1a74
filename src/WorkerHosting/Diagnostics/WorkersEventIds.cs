namespace WorkerHosting.Diagnostics;

/// <summary>
/// Every event id WorkerHosting logs with, in one place. Never reuse a retired id: leave a <c>// Reserved</c> line.
/// </summary>
internal static class WorkersEventIds
{
    // 1-99: coordinator
    public const int WorkersStarting = 1;
    public const int WorkersStarted = 2;
    // Reserved: 3, NoWorkerStarted (the start's exception carries every failure, and the host logs it)
    public const int WorkersDraining = 4;
    public const int WorkersStopped = 5;
    public const int StandaloneMode = 6;
    public const int StoppedAccepting = 7;
    public const int WorkerExitedUnexpectedly = 8;
    // Reserved: 9, NoWorkersLeft (a worker that ends is restarted now)
    public const int CommandFailed = 10;
    public const int ShutdownDelayStarted = 11;
    public const int ShutdownDelayEnded = 12;
    public const int PidFileFailed = 13;
    public const int UpgradingForLeaks = 14;

    // 100-199: workers
    public const int WorkerBooting = 100;
    public const int WorkerReady = 101;
    public const int WorkerFailedToStart = 102;
    public const int WorkerStopping = 103;
    public const int WorkerStopped = 104;
    public const int WorkerDrainTimedOut = 105;
    public const int WorkerDidNotExit = 106;
    public const int WorkerUnloaded = 107;
    public const int WorkerUnloadLeaked = 108;
    public const int WorkerHandoffsUnsettled = 109;
    public const int WorkerRegistrationsReleased = 110;
    public const int WorkerUnloadedLate = 111;
    public const int LeakedWorkersLimitExceeded = 112;
    public const int WorkerExitedAfterGivenUp = 113;
    public const int WorkerKept = 114;

    // 200-299: listeners
    public const int EndpointBound = 200;
    public const int AcceptFailed = 201;
    public const int ConnectionsRejected = 202;

    // 300-399: lifecycle (restart, reload, scale, recycle)
    public const int WorkerRestarting = 300;
    public const int CrashLoop = 301;
    public const int ReloadStarting = 302;
    public const int ReloadCompleted = 303;
    public const int ReloadFailed = 304;
    public const int Scaling = 305;
    public const int Recycling = 306;
    public const int SignalReceived = 307;
    public const int SignalIgnored = 308;
    public const int WorkerRestarted = 309;
    public const int WatchTriggered = 310;
    public const int OptionsReloadRejected = 311;
    public const int FastStop = 312;
    public const int RecycleFailed = 313;
    public const int WorkerRestartingAfterEarlyEnd = 314;

    // 400-499: configuration

    // 600-699: OpenTelemetry
    public const int CoordinatorServesPaths = 600;

    // 700-799: systemd
    public const int SystemdNotifyFailed = 700;
    public const int SystemdWatchdogWithheld = 701;

    // 800-899: hot upgrade of the process
    public const int UpgradeStarted = 800;
    public const int UpgradeReady = 801;
    public const int UpgradeFailed = 802;
    public const int UpgradeRefused = 803;
    public const int UpgradeReadyReportFailed = 804;

    // 500-599: hooks
    public const int HookFailed = 500;
    public const int HookTimedOut = 501;
    public const int HookObserversUnavailable = 502;
}
