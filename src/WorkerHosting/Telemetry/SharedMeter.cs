using System.Diagnostics.Metrics;

namespace WorkerHosting.Telemetry;

/// <summary>
/// A meter of <see cref="SharedMeterFactory"/>, which only that factory ends. The framework's components dispose the meter
/// their container's factory gave them when the container is disposed (ASP.NET Core's <c>HostingMetrics</c> does): for a
/// meter every worker shares, that would end every worker's instruments (measured: after a reload the new workers'
/// <c>http.server.request.duration</c> was recorded nowhere), so a worker's dispose is ignored.
/// </summary>
internal sealed class SharedMeter(MeterOptions options) : Meter(options)
{
    private bool _released;

    /// <summary>Ends the meter: the factory that owns it is disposed.</summary>
    public void Release()
    {
        _released = true;
        Dispose();
    }

    protected override void Dispose(bool disposing)
    {
        if (_released)
        {
            base.Dispose(disposing);
        }
    }
}
