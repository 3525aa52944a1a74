using System.Diagnostics.Metrics;

namespace WorkerHosting.Telemetry;

/// <summary>
/// A worker's <see cref="IMeterFactory"/>. The framework's meters (ASP.NET Core's <c>Microsoft.AspNetCore.*</c>,
/// <c>System.Net.*</c>) come from the coordinator's <see cref="SharedMeterFactory"/>: every worker records into the same
/// meters, and a meter caches its synchronous instruments by name, so every worker's <c>http.server.request.duration</c>
/// is one instrument that outlives them all. Any other meter (the app's own) is the worker's, disposed with its container
/// as the host's own factory would.
/// </summary>
/// <remarks>
/// A meter shared this way must have only synchronous instruments: an observable instrument's callback is the worker's
/// code, and a meter that lives for the process would keep the worker's load context alive through it. The frameworks'
/// meters created through <see cref="IMeterFactory"/> have none (checked against the shared frameworks' assemblies by a
/// unit test); the app's meters may, which is why they are not shared.
/// </remarks>
internal sealed class WorkerMeterFactory : IMeterFactory
{
    private readonly IMeterFactory _shared;
    private readonly MeterCache _own;

    public WorkerMeterFactory(IMeterFactory shared)
    {
        _shared = shared;
        _own = new MeterCache(this);
    }

    /// <summary>Whether the meter of this name is the framework's, shared by every worker.</summary>
    public static bool IsShared(string name) =>
        name.StartsWith("Microsoft.AspNetCore.", StringComparison.Ordinal) ||
        name.StartsWith("System.Net.", StringComparison.Ordinal);

    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!IsShared(options.Name))
        {
            return _own.GetOrCreate(options);
        }

        if (options.Scope is not null && !ReferenceEquals(options.Scope, this))
        {
            throw new InvalidOperationException($"The meter '{options.Name}' names a scope of its own; a meter factory sets the scope of the meters it creates. Leave MeterOptions.Scope unset.");
        }

        return _shared.Create(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, TelemetrySchemaUrl = options.TelemetrySchemaUrl });
    }

    public void Dispose() => _own.Dispose();
}
