using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Systemd;
using WorkerHosting.Coordinator;

namespace WorkerHosting.Systemd;

/// <summary>
/// The coordinator's <see cref="ISystemdNotifier"/>: the app's own (registered by <c>UseSystemd()</c>), silent once a hot
/// upgrade has handed the process over. The host's systemd lifetime sends <c>STOPPING=1</c> when this process stops; after
/// a hot upgrade systemd would take it as the service's stop, and stop the new main process.
/// </summary>
internal sealed class HandoverAwareNotifier(ISystemdNotifier inner, ShutdownState shutdown) : ISystemdNotifier
{
    public bool IsEnabled => inner.IsEnabled;

    public void Notify(ServiceState state)
    {
        if (!shutdown.HandedOver)
        {
            inner.Notify(state);
        }
    }

    /// <summary>Wraps every registration of <see cref="ISystemdNotifier"/> in the coordinator's services.</summary>
    public static void Decorate(IServiceCollection services)
    {
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(ISystemdNotifier) || descriptor.IsKeyedService)
            {
                continue;
            }

            services[i] = ServiceDescriptor.Singleton<ISystemdNotifier>(sp => new HandoverAwareNotifier(
                (ISystemdNotifier)(descriptor.ImplementationInstance
                    ?? descriptor.ImplementationFactory?.Invoke(sp)
                    ?? ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!)),
                sp.GetRequiredService<ShutdownState>()));
        }
    }
}
