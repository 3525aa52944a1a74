using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using WorkerHosting.Configuration;
using WorkerHosting.Coordinator;
using WorkerHosting.Diagnostics;
using WorkerHosting.Listeners;
using WorkerHosting.Systemd;
using WorkerHosting.Telemetry;
using WorkerHosting.Workers;

namespace WorkerHosting.Hosting;

/// <summary>
/// What UseWorkers registers, in each of its modes: in the coordinator (the process's own host), and inside a
/// worker (the same app code run again in a worker's load context).
/// </summary>
internal static class WorkersSetup
{
    private static readonly object _stateKey = typeof(WorkersSetupState);

    /// <summary>The app whose host is building on this flow (its build runs synchronously, callbacks included).</summary>
    private static readonly AsyncLocal<WorkersSetupState?> _building = new();

    /// <summary>Applies UseWorkers to a builder whose services can be registered now.</summary>
    public static void Apply(IDictionary<object, object> properties, IServiceCollection services, IConfigurationBuilder configuration, Action<WorkersOptions>? configure, Assembly callingAssembly)
    {
        if (GetOrAddState(properties, callingAssembly, configure, out var state))
        {
            state.Services = services;
            state.Configuration = configuration;
            AddServices(services, state);
        }
    }

    /// <summary>Applies UseWorkers to a builder whose services are registered when it builds.</summary>
    public static void Apply(IHostBuilder builder, Action<WorkersOptions>? configure, Assembly callingAssembly)
    {
        if (GetOrAddState(builder.Properties, callingAssembly, configure, out var state))
        {
            builder.ConfigureServices((_, services) => AddServices(services, state));
        }
    }

    /// <summary>Raised from every host's Build(): adds the replacements that must come after the app's services.</summary>
    public static void OnHostBuilding(IHostBuilder hostBuilder)
    {
        if (WorkerRuntime.Current is { } runtime)
        {
            // The first host built inside a worker is the one the worker runs.
            if (runtime.TryClaimHost())
            {
                runtime.Overrides?.Apply(hostBuilder);
                hostBuilder.ConfigureServices((_, services) => OverrideWorkerServices(services, runtime));
            }

            return;
        }

        if (hostBuilder.Properties.TryGetValue(_stateKey, out var found) && found is WorkersSetupState state)
        {
            // What the app registered, before anything a test (WebApplicationFactory) adds as the host builds: a builder
            // with its services at hand (WebApplication, HostApplicationBuilder) has them all now; a classic host builder
            // registers them from callbacks, which run before the test's: the test factory marks the point
            // (MarkAppServices, MarkAppConfiguration), on this host's build.
            if (state.Services is { } appServices && state.Configuration is { } appConfiguration)
            {
                state.AppServices = [.. appServices];
                state.AppSources = [.. appConfiguration.Sources];
            }

            _building.Value = state;

            // Workers run Main with the arguments the app gave its builder, which need not be the process's command
            // line (an app started from code, a test, a benchmark): they are the command-line configuration source's.
            hostBuilder.ConfigureAppConfiguration((_, configuration) =>
                state.Args = configuration.Sources.OfType<CommandLineConfigurationSource>().LastOrDefault()?.Args.ToArray() ?? []);
            hostBuilder.ConfigureServices((_, services) => OverrideCoordinatorServices(services, state.CoordinatorChanges));
        }
    }

    private static bool GetOrAddState(IDictionary<object, object> properties, Assembly callingAssembly, Action<WorkersOptions>? configure, out WorkersSetupState state)
    {
        // In the process's own host, before anything is registered: a published form workers cannot run stops here.
        if (WorkerRuntime.Current is null)
        {
            WorkersPlatform.ThrowIfUnsupported(WorkerApplication.Choose(callingAssembly));
        }

        HostBuildingObserver.EnsureSubscribed();

        var added = false;
        if (!properties.TryGetValue(_stateKey, out var existing))
        {
            existing = new WorkersSetupState(WorkerApplication.Choose(callingAssembly));
            properties[_stateKey] = existing;
            added = true;
        }

        state = (WorkersSetupState)existing;
        if (configure is not null)
        {
            state.Configure.Add(configure);
        }

        return added;
    }

    private static void AddServices(IServiceCollection services, WorkersSetupState state)
    {
        // Code gives defaults; the Workers section overrides them (bound after the code's values are applied).
        var optionsBuilder = services.AddOptions<WorkersOptions>()
            .Configure(options => state.Configure.ForEach(configure => configure(options)));
        if (WorkerRuntime.Current is null)
        {
            // A key no option has (a typo) stops the start, and is rejected on reload, as a bad value is. The check
            // names each key by its full path before the binder (which would throw too, less clearly) sees it.
            optionsBuilder
                .Configure<IConfiguration>((_, configuration) => WorkersConfigurationKeys.ThrowIfUnknown(
                    configuration.GetSection(WorkersOptions.SectionName), Options.DefaultName))
                .BindConfiguration(WorkersOptions.SectionName, binder => binder.ErrorOnUnknownConfiguration = true);
        }
        else
        {
            // A worker binds its own copy of the configuration from disk: the coordinator checked it at start, and a
            // typo that a later reload brought (which the coordinator rejected) must not fail the workers it starts.
            optionsBuilder.BindConfiguration(WorkersOptions.SectionName);
        }

        optionsBuilder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WorkersOptions>, WorkersOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);

        if (WorkerRuntime.Current is not null)
        {
            // Inside a worker: the worker's own services are added when its host builds.
            return;
        }

        // The stop's bound is what the operator configured: the coordinator's host gets exactly the shutdown delay plus
        // GracefulTimeout plus the margin (after the app's own HostOptions configuration), shorter as well as longer than
        // its default 30 s.
        services.AddOptions<HostOptions>().PostConfigure<IOptions<WorkersOptions>>((host, workers) =>
            host.ShutdownTimeout = workers.Value.ShutdownDelay + workers.Value.GracefulTimeout + WorkersDefaults.ShutdownMargin);

        // Resolved when the coordinator starts workers, so an app without an entry point fails there, not here.
        services.TryAddSingleton(_ => new WorkerApplication(state.Application, state.Args) { Overrides = state.TestOverrides });

        // The app's SocketTransportOptions (UseSockets), read where Kestrel's own transport would read them.
        services.TryAddSingleton<SocketTransportSettings>();
        services.TryAddSingleton<SharedEndpoints>();
        services.TryAddSingleton(sp => new CoordinatorMode(sp, services));

        // The WorkerHosting meter (dotnet-counters, OpenTelemetry); IMeterFactory is part of the default host, added here
        // for hosts built without it.
        services.AddMetrics();
        services.TryAddSingleton<ShutdownState>();
        services.TryAddSingleton(sp => new WorkersMetrics(sp.GetRequiredService<IMeterFactory>()));

        // OpenTelemetry's providers run once, here (docs/opentelemetry.md): the framework's meters that every worker records
        // into live as long as this host, and the pipeline this host builds answers the scraping endpoint for the workers.
        services.TryAddSingleton<SharedMeterFactory>();
        services.TryAddSingleton(sp => new CoordinatorPipeline(sp.GetRequiredService<ILogger<CoordinatorPipeline>>()));
        services.TryAddSingleton(sp => new WorkerFactory(
            sp.GetRequiredService<WorkerApplication>(),
            sp.GetRequiredService<SharedEndpoints>(),
            sp.GetRequiredService<SocketTransportSettings>(),
            () => sp.GetRequiredService<IWorkerPool>(),
            sp.GetRequiredService<WorkersMetrics>(),
            sp.GetRequiredService<ShutdownState>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<CoordinatorPipeline>(),
            sp.GetRequiredService<SharedMeterFactory>()));
        services.TryAddSingleton(sp => new WorkerPool(
            sp.GetRequiredService<IOptions<WorkersOptions>>().Value,
            sp.GetRequiredService<WorkerFactory>(),
            sp.GetServices<IWorkerLifecycleObserver>,
            sp.GetRequiredService<IHostApplicationLifetime>(),
            sp.GetRequiredService<WorkersMetrics>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ShutdownState>()));
        services.TryAddSingleton<IWorkerPool>(sp => sp.GetRequiredService<WorkerPool>());
        services.TryAddSingleton(sp =>
        {
            var pool = sp.GetRequiredService<WorkerPool>();
            var upgrade = new ProcessUpgrade(
                sp.GetRequiredService<SharedEndpoints>(),
                sp.GetRequiredService<ShutdownState>(),
                sp.GetRequiredService<IHostApplicationLifetime>(),
                () => pool.Options,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger(WorkersLogCategories.Lifetime),
                sp.GetRequiredService<TimeProvider>());
            pool.Upgrade = upgrade;
            return upgrade;
        });

        // systemd's notify socket, through the app's ISystemdNotifier (UseSystemd) or one of our own when the app has none.
        services.TryAddSingleton(sp => new SystemdReporter(
            sp.GetService<ISystemdNotifier>() ?? new HandoverAwareNotifier(new SystemdNotifier(), sp.GetRequiredService<ShutdownState>()),
            sp.GetService<IHostLifetime>(),
            sp.GetRequiredService<WorkerPool>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger(WorkersLogCategories.Lifetime)));
        services.TryAddSingleton(sp => sp.GetRequiredService<CoordinatorMode>().Context);
        services.AddHostedService<WorkerCoordinator>();
    }

    /// <summary>
    /// Marks where the app's own registrations end and a test's begin, for a classic host builder (IHostBuilder), whose
    /// services and configuration sources are registered by callbacks: WorkerHosting.Testing calls it from the first of a
    /// test's callbacks. A builder with its services at hand (WebApplication) was recorded when its host began to build.
    /// </summary>
    internal static void MarkAppServices(IServiceCollection services)
    {
        if (_building.Value is { } state)
        {
            state.AppServices ??= [.. services];
        }
    }

    /// <inheritdoc cref="MarkAppServices"/>
    internal static void MarkAppConfiguration(IConfigurationBuilder configuration)
    {
        if (_building.Value is { } state)
        {
            state.AppSources ??= [.. configuration.Sources];
        }
    }

    /// <summary>
    /// Records what a test registered on top of the app's services (WorkerHosting.Testing calls it last, from the
    /// coordinator's host as it builds), so that every worker gets the same: what was added, and what was removed.
    /// </summary>
    internal static void CaptureTestServices(IDictionary<object, object> properties, IServiceCollection services)
    {
        var state = TestedState(properties);
        if (state.AppServices is null)
        {
            throw new InvalidOperationException(NoMarkMessage);
        }

        var app = new HashSet<ServiceDescriptor>(state.AppServices, ReferenceEqualityComparer.Instance);
        var now = new HashSet<ServiceDescriptor>(services, ReferenceEqualityComparer.Instance);
        state.AddedServices = [.. services.Where(d => !app.Contains(d) && !state.CoordinatorChanges.Contains(d))];
        state.RemovedServices = [.. state.AppServices.Where(d => !now.Contains(d) && !state.CoordinatorChanges.Contains(d))];
    }

    /// <summary>Records the configuration sources a test added on top of the app's (see <see cref="CaptureTestServices"/>).</summary>
    internal static void CaptureTestConfiguration(IDictionary<object, object> properties, IConfigurationBuilder configuration)
    {
        var state = TestedState(properties);
        if (state.AppSources is null)
        {
            throw new InvalidOperationException(NoMarkMessage);
        }

        var app = new HashSet<IConfigurationSource>(state.AppSources, ReferenceEqualityComparer.Instance);
        state.AddedSources = [.. configuration.Sources.Where(s => !app.Contains(s))];
    }

    private const string NoMarkMessage =
        "WorkersApplicationFactory could not tell the app's registrations from the test's: an override of ConfigureWebHost in a WorkersApplicationFactory must call base.ConfigureWebHost(builder) before its own configuration.";

    private static WorkersSetupState TestedState(IDictionary<object, object> properties)
        => properties.TryGetValue(_stateKey, out var state)
            ? (WorkersSetupState)state
            : throw new InvalidOperationException("The app under test does not call UseWorkers: WorkersApplicationFactory tests apps that run with workers. Use WebApplicationFactory for an app without them.");

    private static void OverrideCoordinatorServices(IServiceCollection services, HashSet<ServiceDescriptor> changes)
    {
        var before = new HashSet<ServiceDescriptor>(services, ReferenceEqualityComparer.Instance);
        OverrideCoordinatorServices(services);

        // What the coordinator changed is its own, not a test's to carry into workers.
        var after = new HashSet<ServiceDescriptor>(services, ReferenceEqualityComparer.Instance);
        changes.UnionWith(before.Where(d => !after.Contains(d)));
        changes.UnionWith(after.Where(d => !before.Contains(d)));
    }

    private static void OverrideCoordinatorServices(IServiceCollection services)
    {
        HandoverAwareNotifier.Decorate(services);

        services.RemoveAll<IConnectionListenerFactory>();
        services.RemoveAll<IMultiplexedConnectionListenerFactory>();
        services.AddSingleton<IConnectionListenerFactory, CoordinatorConnectionListenerFactory>();

        // Outermost in the coordinator's pipeline: records it, for the requests the workers hand to it.
        services.Insert(0, ServiceDescriptor.Singleton<IStartupFilter>(sp => new CoordinatorPipelineStartupFilter(sp.GetRequiredService<CoordinatorPipeline>())));

        // The app's hosted services run in the workers; the coordinator keeps only the web host (which binds
        // the shared endpoints and builds the pipeline), its own coordinator, and OpenTelemetry's, which builds the app's
        // providers: they run here, once for the process (workers get no-op ones).
        var webHostAssembly = typeof(WebHostBuilderExtensions).Assembly;
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(IHostedService) || descriptor.IsKeyedService ||
                descriptor.ImplementationType == typeof(WorkerCoordinator) ||
                descriptor.ImplementationType?.Assembly == webHostAssembly ||
                OpenTelemetryRegistrations.IsHostedService(descriptor))
            {
                continue;
            }

            services[i] = ServiceDescriptor.Singleton<IHostedService>(sp =>
                new CoordinatorGatedHostedService(sp, descriptor, sp.GetRequiredService<CoordinatorMode>()));
        }
    }

    private static void OverrideWorkerServices(IServiceCollection services, WorkerRuntime runtime)
    {
        services.RemoveAll<IHostLifetime>();
        services.AddSingleton<IHostLifetime, WorkerHostLifetime>();

        services.RemoveAll<IConnectionListenerFactory>();
        services.RemoveAll<IMultiplexedConnectionListenerFactory>();
        services.AddSingleton<IConnectionListenerFactory>(new WorkerConnectionListenerFactory(runtime));

        services.RemoveAll<IWorkerContext>();
        services.AddSingleton(runtime.Context);

        // The framework's meters come from the coordinator, so a worker's exit disposes none that the coordinator's
        // OpenTelemetry provider merges with other workers' (the app's own meters stay the worker's); the app's metrics and
        // tracing providers are the coordinator's, so the worker's are no-op.
        if (runtime.SharedMeters is { } sharedMeters)
        {
            services.RemoveAll<IMeterFactory>();
            services.AddSingleton<IMeterFactory>(_ => new WorkerMeterFactory(sharedMeters));
        }

        OpenTelemetryRegistrations.UseNoOpProviders(services);

        // Outermost in the app's pipeline (startup filters registered first wrap the others).
        services.Insert(0, ServiceDescriptor.Singleton<IStartupFilter>(new RequestTrackingStartupFilter(runtime)));

        // Last of the hosted services: started last (ready means everything started), stopped first.
        services.AddSingleton<IHostedService>(sp => new WorkerAgent(
            runtime,
            sp.GetRequiredService<IHostApplicationLifetime>(),
            sp.GetRequiredService<IOptions<HostOptions>>(),
            sp.GetService<IWebHostEnvironment>(),
            sp.GetService<DiagnosticListener>(),
            sp.GetService<IHttpClientFactory>()));

        services.RemoveAll<IWorkerPool>();
        services.AddSingleton(runtime.Pool);

        // The worker's host drains for the graceful timeout, then its server aborts what is left.
        services.Configure<HostOptions>(options => options.ShutdownTimeout = runtime.GracefulTimeout);

        // The coordinator reports the addresses once; N workers repeating "Now listening on" is noise.
        services.Configure<LoggerFilterOptions>(options => options.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning));
    }

    private sealed class WorkersSetupState(Assembly application)
    {
        public Assembly Application { get; } = application;

        /// <summary>The arguments the app's builder was given (its command-line configuration), captured as it builds.</summary>
        public IReadOnlyList<string> Args { get; set; } = [];

        public List<Action<WorkersOptions>> Configure { get; } = [];

        /// <summary>The app's builder's services and configuration (a builder that has them at hand), as UseWorkers got them.</summary>
        public IServiceCollection? Services { get; set; }

        public IConfigurationBuilder? Configuration { get; set; }

        /// <summary>The app's registrations and configuration sources when its host began to build.</summary>
        public ServiceDescriptor[]? AppServices { get; set; }

        public IConfigurationSource[]? AppSources { get; set; }

        /// <summary>The registrations the coordinator replaced, removed or added in its own host.</summary>
        public HashSet<ServiceDescriptor> CoordinatorChanges { get; } = new(ReferenceEqualityComparer.Instance);

        /// <summary>What a test added or removed on top of the app's (WorkerHosting.Testing), if a test captured it.</summary>
        public ServiceDescriptor[]? AddedServices { get; set; }

        public ServiceDescriptor[]? RemovedServices { get; set; }

        public IConfigurationSource[]? AddedSources { get; set; }

        public WorkerOverrides? TestOverrides => AddedServices is null && AddedSources is null
            ? null
            : new WorkerOverrides(AddedServices ?? [], RemovedServices ?? [], AddedSources ?? []);
    }
}
