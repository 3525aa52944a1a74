using System.Runtime.Loader;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace WorkerHosting.Workers;

/// <summary>
/// What a test changed in the app's host on top of the app's own registrations (WorkerHosting.Testing captures it in the
/// coordinator: <c>ConfigureTestServices</c>, <c>ConfigureServices</c>, <c>ConfigureAppConfiguration</c>), applied again to
/// every worker's host, in the worker's own load context, after the app's registrations.
/// </summary>
/// <remarks>
/// Host settings (<c>UseSetting</c>, <c>UseEnvironment</c>, the content root) need nothing from here: WebApplicationFactory
/// passes them to the app's entry point as command-line arguments, which workers are given too.
/// </remarks>
internal sealed class WorkerOverrides(
    IReadOnlyList<ServiceDescriptor> added,
    IReadOnlyList<ServiceDescriptor> removed,
    IReadOnlyList<IConfigurationSource> sources)
{
    public IReadOnlyList<ServiceDescriptor> Added { get; } = added;

    public IReadOnlyList<ServiceDescriptor> Removed { get; } = removed;

    public IReadOnlyList<IConfigurationSource> Sources { get; } = sources;

    /// <summary>Adds the overrides to the host a worker is building, from the worker's thread.</summary>
    public void Apply(IHostBuilder builder)
    {
        if (AssemblyLoadContext.CurrentContextualReflectionContext is not WorkerLoadContext loadContext)
        {
            throw new InvalidOperationException("A worker's test overrides are applied in the worker's own load context.");
        }

        var translator = new LoadContextTranslator(loadContext);
        if (Sources.Count > 0)
        {
            builder.ConfigureAppConfiguration((_, configuration) =>
            {
                foreach (var source in Sources)
                {
                    configuration.Add((IConfigurationSource)translator.Value(source, $"The configuration source {source.GetType().Name} the test added")!);
                }
            });
        }

        if (Added.Count > 0 || Removed.Count > 0)
        {
            builder.ConfigureServices((_, services) => ApplyServices(services, translator));
        }
    }

    private void ApplyServices(IServiceCollection services, LoadContextTranslator translator)
    {
        foreach (var removed in Removed)
        {
            for (var i = services.Count - 1; i >= 0; i--)
            {
                if (Matches(services[i], removed, translator))
                {
                    services.RemoveAt(i);
                }
            }
        }

        foreach (var added in Added)
        {
            services.Add(Translate(added, translator));
        }
    }

    /// <summary>The worker's version of a registration the test made.</summary>
    internal static ServiceDescriptor Translate(ServiceDescriptor descriptor, LoadContextTranslator translator)
    {
        var what = $"The test's registration of {descriptor.ServiceType.Name}";
        var serviceType = translator.Type(descriptor.ServiceType);
        if (descriptor.IsKeyedService)
        {
            var key = translator.Value(descriptor.ServiceKey, what);
            return descriptor switch
            {
                { KeyedImplementationType: { } type } => new ServiceDescriptor(serviceType, key, translator.Type(type), descriptor.Lifetime),
                { KeyedImplementationInstance: { } instance } => new ServiceDescriptor(serviceType, key, Instance(serviceType, instance, translator, what)),
                _ => new ServiceDescriptor(serviceType, key, (Func<IServiceProvider, object?, object>)translator.Delegate(descriptor.KeyedImplementationFactory!, what), descriptor.Lifetime),
            };
        }

        return descriptor switch
        {
            { ImplementationType: { } type } => new ServiceDescriptor(serviceType, translator.Type(type), descriptor.Lifetime),
            { ImplementationInstance: { } instance } => new ServiceDescriptor(serviceType, Instance(serviceType, instance, translator, what)),
            _ => new ServiceDescriptor(serviceType, (Func<IServiceProvider, object>)translator.Delegate(descriptor.ImplementationFactory!, what), descriptor.Lifetime),
        };
    }

    /// <summary>The worker's copy of an instance the test registered, which must be a <paramref name="serviceType"/> there.</summary>
    private static object Instance(Type serviceType, object instance, LoadContextTranslator translator, string what)
    {
        var copy = translator.Value(instance, what)!;
        if (!serviceType.IsInstanceOfType(copy))
        {
            throw new NotSupportedException(
                $"{what} is an instance of {instance.GetType()}, which has no counterpart in a worker's load context (a type generated at run time, such as a mock's proxy): register a class of the test project instead (services.AddSingleton<{serviceType.Name}, MyFake>()), or a lambda that creates one.");
        }

        return copy;
    }

    /// <summary>Whether the worker's registration is the counterpart of one the test removed.</summary>
    internal static bool Matches(ServiceDescriptor candidate, ServiceDescriptor removed, LoadContextTranslator translator)
    {
        if (candidate.IsKeyedService != removed.IsKeyedService || candidate.Lifetime != removed.Lifetime ||
            candidate.ServiceType != translator.Type(removed.ServiceType))
        {
            return false;
        }

        if (removed.IsKeyedService)
        {
            return Equals(candidate.ServiceKey, translator.Value(removed.ServiceKey, "A removed registration's key")) &&
                SameImplementation(candidate.KeyedImplementationType, candidate.KeyedImplementationInstance, candidate.KeyedImplementationFactory,
                    removed.KeyedImplementationType, removed.KeyedImplementationInstance, removed.KeyedImplementationFactory, translator);
        }

        return SameImplementation(candidate.ImplementationType, candidate.ImplementationInstance, candidate.ImplementationFactory,
            removed.ImplementationType, removed.ImplementationInstance, removed.ImplementationFactory, translator);
    }

    private static bool SameImplementation(
        Type? type, object? instance, Delegate? factory,
        Type? removedType, object? removedInstance, Delegate? removedFactory,
        LoadContextTranslator translator)
    {
        if (removedType is not null)
        {
            return type == translator.Type(removedType);
        }

        if (removedInstance is not null)
        {
            return instance is not null && instance.GetType() == translator.Type(removedInstance.GetType());
        }

        return factory is not null && removedFactory is not null && translator.SameMethod(factory.Method, removedFactory.Method);
    }
}
