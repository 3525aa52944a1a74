using WorkerHosting.Configuration;

namespace WorkerHosting;

/// <summary>
/// Options for running the app as workers, bound from the <c>Workers</c> configuration section.
/// </summary>
/// <remarks>
/// Values given in code (<c>UseWorkers(4)</c> or <c>UseWorkers(o =&gt; ...)</c>) are defaults: configuration
/// (appsettings.json, environment variables such as <c>Workers__Count</c>, the command line such as
/// <c>--Workers:Count=8</c>) overrides them, so a deployed app is tuned without a rebuild.
/// </remarks>
public sealed class WorkersOptions
{
    /// <summary>
    /// The name of the configuration section the options are bound from.
    /// </summary>
    public const string SectionName = "Workers";

    /// <summary>
    /// Gets or sets how many workers serve the app.
    /// </summary>
    /// <value>Defaults to the number of processors (<see cref="Environment.ProcessorCount"/>). Must be at least 1.</value>
    public int Count { get; set; } = WorkersDefaults.Count;

    /// <summary>
    /// Gets or sets how long a stop waits for in-flight requests to finish before it aborts them.
    /// </summary>
    /// <value>Defaults to 30 seconds. Must be positive and at most one day.</value>
    /// <remarks>
    /// The coordinator's <see cref="Microsoft.Extensions.Hosting.HostOptions.ShutdownTimeout"/> is set to this value plus
    /// <see cref="ShutdownDelay"/> plus 5 seconds (whatever the app set): a stop takes at most that long. A worker that has not exited 3 seconds after its
    /// graceful timeout (app code that ignores its token) is given up.
    /// </remarks>
    public TimeSpan GracefulTimeout { get; set; } = WorkersDefaults.GracefulTimeout;

    /// <summary>
    /// Gets or sets how long a stop (SIGTERM, SIGINT or <c>StopApplication()</c>) keeps accepting and serving before it
    /// drains: a lame-duck period for load balancers that still route to the process for a while (Kubernetes removes a
    /// stopping pod from its endpoints only some time after it sent SIGTERM).
    /// </summary>
    /// <value>Defaults to zero: the stop drains at once. Must be zero or positive, and at most one day.</value>
    /// <remarks>
    /// During the delay the workers' readiness check (<c>AddWorkersCheck()</c>) is unhealthy, every HTTP/1.1 response
    /// carries <c>Connection: close</c> and every HTTP/2 connection that sends a request gets GOAWAY, so clients move to
    /// new connections (which a load balancer sends elsewhere once it has seen the process is not ready). A second
    /// SIGTERM or SIGINT ends the delay early; SIGQUIT skips it. The coordinator's shutdown timeout covers the delay plus
    /// <see cref="GracefulTimeout"/> plus 5 seconds.
    /// </remarks>
    public TimeSpan ShutdownDelay { get; set; }

    /// <summary>
    /// Gets or sets how long a new worker may take to be ready (its host started) before its start counts as failed.
    /// </summary>
    /// <value>Defaults to 30 seconds. Must be positive and at most one day.</value>
    public TimeSpan StartupTimeout { get; set; } = WorkersDefaults.StartupTimeout;

    /// <summary>
    /// Gets or sets how many requests a worker serves before it is replaced by a new one (gunicorn's
    /// <c>max_requests</c>). The replacement is ready before the old worker drains, and one worker is recycled at a time.
    /// </summary>
    /// <value>Defaults to 0: workers are never recycled for the requests they served.</value>
    public long MaxRequests { get; set; }

    /// <summary>
    /// Gets or sets the most requests added at random to <see cref="MaxRequests"/> for each worker, so workers do not all
    /// reach their limit together (gunicorn's <c>max_requests_jitter</c>).
    /// </summary>
    /// <value>Defaults to 0.</value>
    public long MaxRequestsJitter { get; set; }

    /// <summary>
    /// Gets or sets whether a change to the app's files on disk (a new build or a deploy) reloads the workers, after a
    /// short quiet period.
    /// </summary>
    /// <value>Defaults to <see langword="false"/>.</value>
    public bool Watch { get; set; }

    /// <summary>
    /// Gets or sets how many stopped workers may stay in memory (unloaded, but their load contexts still alive because
    /// something outside the worker references their code) before WorkerHosting logs an error that the process should be
    /// replaced. Each such worker is also logged as a warning naming what holds it, and listed by
    /// <see cref="IWorkerPool.GetLeakedWorkers"/>.
    /// </summary>
    /// <value>Defaults to 5. 0 makes the first leaked worker an error.</value>
    public int MaxLeakedWorkers { get; set; } = WorkersDefaults.MaxLeakedWorkers;

    /// <summary>
    /// Gets or sets whether a process whose leaked workers go past <see cref="MaxLeakedWorkers"/> replaces itself by a hot
    /// upgrade (as SIGUSR2 does): a new process of the same app takes over the listening sockets, and this one, with the
    /// memory its leaked workers hold, drains and exits.
    /// </summary>
    /// <value>Defaults to <see langword="false"/>: past the limit an error is logged, and the operator decides.</value>
    /// <remarks>Linux only, as the hot upgrade. If the upgrade fails, the error says why and this process keeps serving.</remarks>
    public bool UpgradeOnLeakLimit { get; set; }

    /// <summary>
    /// Gets or sets a file the coordinator writes its process ID to once its workers are ready, and deletes when it exits
    /// (gunicorn's <c>pidfile</c>), for supervisors that track the process by file. After a hot upgrade the new process
    /// writes its own ID there, and the old one leaves the file alone.
    /// </summary>
    /// <value>Defaults to <see langword="null"/>: no file. Its directory must exist.</value>
    public string? PidFile { get; set; }

    /// <summary>
    /// Gets or sets whether a stopped worker's leftovers in the process are released so that it can be unloaded: what
    /// its code registered process-wide and never unregistered (meters whose callbacks are its code, meter, activity,
    /// event and diagnostic listeners, subscriptions to diagnostic listeners, timers and delay loops of its code,
    /// handlers of AppDomain and AppContext events, whose ProcessExit and DomainUnload handlers run first), and timers of
    /// framework components its host never disposed. Without it, such a worker stays in memory and is reported (see
    /// <see cref="MaxLeakedWorkers"/>).
    /// </summary>
    /// <value>
    /// Defaults to <see langword="false"/>. Measured on .NET 10.0.12: with it, workers of apps using OpenTelemetry,
    /// Serilog or Microsoft.Data.Sqlite unload; but once workers of apps using EF Core unloaded, the process crashed
    /// under load within a few reloads (an access violation in the runtime), so it stays off by default, and workers
    /// that loaded EF Core are never unloaded (they are kept, and reported as leaked).
    /// </value>
    public bool ReleaseLeftovers { get; set; }

    /// <summary>
    /// Gets the options for replacing workers that end on their own (section <c>Workers:Restart</c>).
    /// </summary>
    public WorkerRestartOptions Restart { get; } = new();
}
