using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using OpenTelemetry;
using OpenTelemetry.Metrics;

// What N workers' providers each add per request under the usual setup: the CPU time of recording one histogram
// measurement with the tags of http.server.request.duration while 0, 1, 2 or 4 MeterProviders listen to it, in three
// interleaved rounds. Process CPU time (one busy thread), so other processes on the machine count less than in wall time.
KeyValuePair<string, object?>[] tags =
[
    new("http.request.method", "GET"), new("http.response.status_code", 200), new("http.route", "/plaintext"),
    new("network.protocol.version", "1.1"), new("url.scheme", "http"), new("workerhosting.worker.slot", 0),
    new("server.address", "127.0.0.1"),
];
const int Count = 2_000_000;
for (var round = 1; round <= 3; round++)
{
    foreach (var count in new[] { 0, 1, 2, 4 })
    {
        using var meter = new Meter("Microsoft.AspNetCore.Hosting");
        var histogram = meter.CreateHistogram<double>("http.server.request.duration", "s");
        var providers = Enumerable.Range(0, count)
            .Select(_ => Sdk.CreateMeterProviderBuilder().AddMeter(meter.Name).AddReader(new BaseExportingMetricReader(new NullExporter())).Build())
            .ToList();
        for (var i = 0; i < 200_000; i++)
        {
            histogram.Record(0.001, tags);
        }

        var start = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < Count; i++)
        {
            histogram.Record(0.001 * (i % 100), tags);
        }

        var ns = (Process.GetCurrentProcess().TotalProcessorTime - start).TotalNanoseconds / Count;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: {count} providers: {ns:F0} ns CPU per measurement"));
        providers.ForEach(p => p.Dispose());
    }
}

internal sealed class NullExporter : BaseExporter<Metric>
{
    public override ExportResult Export(in Batch<Metric> batch) => ExportResult.Success;
}
