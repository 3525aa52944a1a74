using System.Diagnostics.Metrics;

namespace WorkerHosting.Telemetry;

/// <summary>
/// The coordinator's meter factory for the framework meters of every worker (see <see cref="WorkerMeterFactory"/>): one
/// meter per name for the life of the process, so that no worker's exit disposes a meter whose instruments a listener
/// (the coordinator's OpenTelemetry provider) merges with other workers' into one stream. What a worker's components do
/// with the meter they were given does not end it either (see <see cref="SharedMeter"/>).
/// </summary>
internal sealed class SharedMeterFactory : IMeterFactory
{
    private readonly MeterCache _meters;

    public SharedMeterFactory() => _meters = new MeterCache(this, options => new SharedMeter(options));

    public Meter Create(MeterOptions options) => _meters.GetOrCreate(options);

    public void Dispose() => _meters.Dispose();
}
