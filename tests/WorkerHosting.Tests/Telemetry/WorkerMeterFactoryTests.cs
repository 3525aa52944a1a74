using System.Diagnostics.Metrics;
using System.Text;
using WorkerHosting.Telemetry;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Telemetry;

public class WorkerMeterFactoryTests
{
    [Theory]
    [InlineData("Microsoft.AspNetCore.Hosting", true)]
    [InlineData("Microsoft.AspNetCore.Server.Kestrel", true)]
    [InlineData("System.Net.Http", true)]
    [InlineData("Microsoft.AspNetCore", false)]
    [InlineData("System.Runtime", false)]
    [InlineData("WorkerHosting", false)]
    [InlineData("MyApp.Orders", false)]
    public void IsShared_OnlyTheFrameworksMeterNames(string name, bool shared) => Assert.Equal(shared, WorkerMeterFactory.IsShared(name));

    [Fact]
    public void Create_FrameworkMetersAreEveryWorkersSameMeter_AndTheirInstrumentsTheSame()
    {
        using var shared = new SharedMeterFactory();
        using var first = new WorkerMeterFactory(shared);
        using var second = new WorkerMeterFactory(shared);

        var a = first.Create(new MeterOptions("Microsoft.AspNetCore.Hosting"));
        var b = second.Create(new MeterOptions("Microsoft.AspNetCore.Hosting"));

        Assert.Same(a, b);
        Assert.Same(shared, a.Scope);
        Assert.Same(a.CreateHistogram<double>("http.server.request.duration", "s"), b.CreateHistogram<double>("http.server.request.duration", "s"));
    }

    [Fact]
    public void Create_OtherMetersAreEachWorkersOwn_AndCachedByNameVersionAndTags()
    {
        using var shared = new SharedMeterFactory();
        using var first = new WorkerMeterFactory(shared);
        using var second = new WorkerMeterFactory(shared);

        var a = first.Create(new MeterOptions("MyApp") { Tags = [new("b", 2), new("a", 1)] });

        Assert.NotSame(a, second.Create(new MeterOptions("MyApp") { Tags = [new("a", 1), new("b", 2)] }));
        Assert.Same(first, a.Scope);
        Assert.Same(a, first.Create(new MeterOptions("MyApp") { Tags = [new("a", 1), new("b", 2)] }));
        Assert.NotSame(a, first.Create(new MeterOptions("MyApp") { Tags = [new("a", 1)] }));
        Assert.NotSame(a, first.Create(new MeterOptions("MyApp") { Version = "2", Tags = [new("a", 1), new("b", 2)] }));
    }

    [Fact]
    public void Dispose_EndsTheWorkersOwnMeters_NotTheSharedOnes_EvenWhenAComponentDisposesOne()
    {
        using var shared = new SharedMeterFactory();
        var worker = new WorkerMeterFactory(shared);
        var framework = worker.Create(new MeterOptions("Microsoft.AspNetCore.Hosting"));
        var own = worker.Create(new MeterOptions("MyApp"));
        var frameworkCounter = framework.CreateCounter<long>("requests");
        var ownCounter = own.CreateCounter<long>("orders");
        using var listener = Listen(frameworkCounter, ownCounter);
        Assert.True(frameworkCounter.Enabled && ownCounter.Enabled);

        // ASP.NET Core's HostingMetrics disposes the meter it was given when its container is disposed.
        framework.Dispose();
        worker.Dispose();

        Assert.True(frameworkCounter.Enabled);
        Assert.False(ownCounter.Enabled);
        using var next = new WorkerMeterFactory(shared);
        Assert.Same(framework, next.Create(new MeterOptions("Microsoft.AspNetCore.Hosting")));
    }

    [Fact]
    public void SharedMeterFactory_Dispose_EndsItsMeters()
    {
        var shared = new SharedMeterFactory();
        var counter = shared.Create(new MeterOptions("System.Net.Http")).CreateCounter<long>("requests");
        using var listener = Listen(counter);

        shared.Dispose();

        Assert.False(counter.Enabled);
    }

    [Fact]
    public void Create_AMeterWithAScopeOfItsOwn_Throws()
    {
        using var shared = new SharedMeterFactory();
        using var worker = new WorkerMeterFactory(shared);

        Assert.Throws<InvalidOperationException>(() => worker.Create(new MeterOptions("Microsoft.AspNetCore.Hosting") { Scope = new object() }));
        Assert.Throws<InvalidOperationException>(() => worker.Create(new MeterOptions("MyApp") { Scope = new object() }));
    }

    /// <summary>
    /// A shared meter lives for the process: an observable instrument on it would keep the worker whose callback it
    /// calls in memory. The shared frameworks' assemblies that take an IMeterFactory create none (no reference to any
    /// Meter.CreateObservable* method in their metadata).
    /// </summary>
    [Fact]
    public void TheSharedFrameworksMeterFactoryUsers_CreateNoObservableInstruments()
    {
        var checkedAssemblies = 0;
        foreach (var directory in SharedFramework.Directories)
        {
            foreach (var file in Directory.EnumerateFiles(directory, "*.dll"))
            {
                var name = Path.GetFileNameWithoutExtension(file);
                if (name == "System.Diagnostics.DiagnosticSource")
                {
                    continue; // where Meter is defined
                }

                var bytes = File.ReadAllBytes(file);
                if (Contains(bytes, "IMeterFactory"))
                {
                    checkedAssemblies++;
                    Assert.False(Contains(bytes, "CreateObservable"), $"{name} creates observable instruments.");
                }
            }
        }

        Assert.True(checkedAssemblies >= 10, $"Only {checkedAssemblies} assemblies use IMeterFactory.");
    }

    private static bool Contains(byte[] bytes, string text) => bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text)) >= 0;

    private static MeterListener Listen(params Instrument[] instruments)
    {
        var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instruments.Contains(instrument))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.Start();
        return listener;
    }
}
