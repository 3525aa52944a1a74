using System.Diagnostics;
using Microsoft.Extensions.Hosting;

namespace WorkerHosting.Hosting;

/// <summary>
/// Listens for the "HostBuilding" event that every host raises from its <c>Build()</c> (the hook
/// WebApplicationFactory uses too). Services added from here are registered after all of the app's own, so
/// WorkerHosting's replacements (transport, lifetime) win whatever the app registered before or after UseWorkers.
/// </summary>
internal sealed class HostBuildingObserver : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>
{
    private const string HostingListenerName = "Microsoft.Extensions.Hosting";
    private const string HostBuildingEvent = "HostBuilding";

    private static readonly Lazy<HostBuildingObserver> _instance = new(() =>
    {
        var observer = new HostBuildingObserver();
        DiagnosticListener.AllListeners.Subscribe(observer);
        return observer;
    });

    private HostBuildingObserver()
    {
    }

    /// <summary>Subscribes once for the life of the process.</summary>
    public static void EnsureSubscribed() => _ = _instance.Value;

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener value)
    {
        if (value.Name == HostingListenerName)
        {
            value.Subscribe(this);
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key == HostBuildingEvent && value.Value is IHostBuilder hostBuilder)
        {
            WorkersSetup.OnHostBuilding(hostBuilder);
        }
    }

    void IObserver<DiagnosticListener>.OnCompleted()
    {
    }

    void IObserver<DiagnosticListener>.OnError(Exception error)
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnCompleted()
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error)
    {
    }
}
