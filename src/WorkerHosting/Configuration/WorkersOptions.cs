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
    /// The host's <see cref="Microsoft.Extensions.Hosting.HostOptions.ShutdownTimeout"/> is raised to this value plus
    /// 5 seconds, so the host never cuts the drain short.
    /// </remarks>
    public TimeSpan GracefulTimeout { get; set; } = WorkersDefaults.GracefulTimeout;
}
