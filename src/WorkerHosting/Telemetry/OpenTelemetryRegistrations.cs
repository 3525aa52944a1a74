using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace WorkerHosting.Telemetry;

/// <summary>
/// Where the app's OpenTelemetry providers run: once, in the coordinator, whose host lives as long as the process. Its
/// <see cref="System.Diagnostics.Metrics.MeterListener"/> and <see cref="System.Diagnostics.ActivityListener"/> are
/// process-wide: they record every worker's instruments and activities, which carry the same names. A worker's own
/// metrics and tracing providers would record the same measurements and end the same spans again, and count only from
/// their worker's start, so inside a worker they are OpenTelemetry's no-op providers (its logging provider is not
/// touched: a worker's logs are its own).
/// </summary>
/// <remarks>
/// Nothing here references OpenTelemetry: its services are told by their assembly and public type names, and a worker's
/// providers are made no-op by the SDK's own switch (<c>OTEL_SDK_DISABLED</c>, OpenTelemetry 1.15 and later), shown only to
/// the factories that build them.
/// </remarks>
internal static class OpenTelemetryRegistrations
{
    /// <summary>The assembly of OpenTelemetry's hosted service, which builds the providers as the host starts.</summary>
    public const string HostingAssemblyName = "OpenTelemetry.Extensions.Hosting";

    /// <summary>The configuration key with which the SDK builds no-op providers.</summary>
    public const string SdkDisabledKey = "OTEL_SDK_DISABLED";

    /// <summary>The providers that record what workers do (meters and activities are process-wide).</summary>
    private static readonly string[] _processWideProviders = ["OpenTelemetry.Metrics.MeterProvider", "OpenTelemetry.Trace.TracerProvider"];

    /// <summary>Whether a hosted service is OpenTelemetry's (it builds the providers when the host starts).</summary>
    public static bool IsHostedService(ServiceDescriptor descriptor) =>
        descriptor.ServiceType == typeof(IHostedService) && !descriptor.IsKeyedService &&
        descriptor.ImplementationType?.Assembly.GetName().Name == HostingAssemblyName;

    /// <summary>Inside a worker: the app's metrics and tracing providers are built as OpenTelemetry's no-op ones.</summary>
    public static void UseNoOpProviders(IServiceCollection services)
    {
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.IsKeyedService || descriptor.ImplementationFactory is not { } factory ||
                !_processWideProviders.Contains(descriptor.ServiceType.FullName, StringComparer.Ordinal))
            {
                continue;
            }

            services[i] = ServiceDescriptor.Describe(descriptor.ServiceType, sp =>
            {
                using var disabled = new SdkDisabledServices(sp);
                return factory(disabled);
            }, descriptor.Lifetime);
        }
    }

    /// <summary>The worker's services, with <c>OTEL_SDK_DISABLED=true</c> on top of its configuration.</summary>
    private sealed class SdkDisabledServices(IServiceProvider services) : IServiceProvider, IDisposable
    {
        private IConfigurationRoot? _configuration;

        public object? GetService(Type serviceType)
        {
            if (serviceType != typeof(IConfiguration))
            {
                return services.GetService(serviceType);
            }

            if (_configuration is null)
            {
                var builder = new ConfigurationBuilder();
                if (services.GetService<IConfiguration>() is { } app)
                {
                    builder.Add(new ChainedConfigurationSource { Configuration = app, ShouldDisposeConfiguration = false });
                }

                _configuration = builder.AddInMemoryCollection([new(SdkDisabledKey, "true")]).Build();
            }

            return _configuration;
        }

        /// <summary>Unhooks the layer from the app's configuration (its reload token) once the provider is built.</summary>
        public void Dispose() => (_configuration as IDisposable)?.Dispose();
    }
}
