using System.Collections;
using System.ComponentModel;
using System.Reflection;
using System.Reflection.Metadata;
using System.Runtime.Loader;

namespace WorkerHosting.Workers;

/// <summary>
/// Clears the shared framework's caches of app types before an unloaded worker's load context is collected: those
/// caches live in the default context and would keep the worker's code alive. Two steps:
/// <list type="number">
/// <item>the hot-reload convention: every <see cref="MetadataUpdateHandlerAttribute"/> type's static
/// <c>ClearCache(Type[]?)</c> (System.Text.Json, MVC's PropertyHelper, ...), except System.Private.CoreLib's: it
/// clears the reflection cache of every type, the framework's own included, and none of those holds a worker's types
/// (an app type's cache lives in its own collectible <see cref="Type"/>; generic methods instantiated over app types
/// are kept by the app's loader allocator). Clearing it anyway made every worker boot rebuild the framework's
/// reflection data and emit new invoke stubs: measured, 4× the dynamic methods per reload and an RSS plateau 18 MB
/// higher over 150 reloads;</item>
/// <item>the type-keyed tables no handler clears (found with dotnet-dump gcroot on an MVC worker):
/// <see cref="TypeDescriptor"/>'s provider tables, ASP.NET Core's <c>ParameterBindingMethodCache</c>, DataAnnotations'
/// attribute store. Entries
/// keyed by a collectible type are removed; caches only, so a live worker's entries are rebuilt on next use.</item>
/// </list>
/// Both reach into framework internals by name: where a runtime lacks them nothing is removed, and unload
/// verification reports the load context that stays alive.
/// </summary>
internal static class FrameworkCaches
{
    private const BindingFlags StaticFields = BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public;
    private const BindingFlags InstanceFields = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;

    public static void Clear()
    {
        var framework = FrameworkAssemblies();
        CallMetadataUpdateHandlers(framework);
        RemoveCollectibleKeys(typeof(TypeDescriptor), null, "s_providerTypeTable", "s_defaultProviderInitialized");
        ClearTypeDescriptionProviders();
        foreach (var assembly in framework)
        {
            if (assembly.GetType("Microsoft.AspNetCore.Http.ParameterBindingMethodCache", throwOnError: false) is { } cacheType)
            {
                ClearParameterBindingCaches(cacheType);
            }

            foreach (var name in _typeKeyedStatics)
            {
                if (assembly.GetType(name, throwOnError: false) is { } type)
                {
                    ClearStatics(type);
                }
            }
        }
    }

    /// <summary>
    /// Framework types whose statics (or the singleton a static holds) cache per type in concurrent dictionaries, with
    /// no hot-reload handler: DataAnnotations' attribute store (Validator, MVC and minimal-API validation, Swashbuckle
    /// read it) and its metadata-type cache. Found with a root walk of a real app's dump (docs/architecture.md).
    /// </summary>
    private static readonly string[] _typeKeyedStatics =
    [
        "System.ComponentModel.DataAnnotations.ValidationAttributeStore",
        "System.ComponentModel.DataAnnotations.AssociatedMetadataTypeTypeDescriptor+TypeDescriptorCache",
    ];

    /// <summary>Removes collectible keys from a type's static dictionaries, and from those of a singleton it holds.</summary>
    private static void ClearStatics(Type type)
    {
        foreach (var field in type.GetFields(StaticFields))
        {
            var value = field.GetValue(null);
            if (value is IDictionary dictionary)
            {
                RemoveCollectibleKeys(dictionary);
            }
            else if (value is not null && value.GetType().Assembly == type.Assembly)
            {
                RemoveCollectibleKeysFromAllFields(value);
            }
        }
    }

    /// <summary>
    /// Only the shared framework's assemblies: reading the app's own assembly in the default context would touch a file
    /// that a build or deploy may be overwriting.
    /// </summary>
    private static List<Assembly> FrameworkAssemblies() =>
        [.. AssemblyLoadContext.Default.Assemblies.Where(SharedFramework.Contains)];

    private static void CallMetadataUpdateHandlers(List<Assembly> assemblies)
    {
        foreach (var assembly in assemblies)
        {
            if (assembly == typeof(object).Assembly)
            {
                // Its handler clears every type's reflection cache: see the remarks on the class.
                continue;
            }

            MetadataUpdateHandlerAttribute[] handlers;
            try
            {
                handlers = (MetadataUpdateHandlerAttribute[])assembly.GetCustomAttributes(typeof(MetadataUpdateHandlerAttribute), inherit: false);
            }
            catch (Exception e) when (e is TypeLoadException or FileNotFoundException or BadImageFormatException)
            {
                continue;
            }

            foreach (var handler in handlers)
            {
                var clearCache = handler.HandlerType.GetMethod("ClearCache", StaticFields, [typeof(Type[])]);
                try
                {
                    clearCache?.Invoke(null, [null]);
                }
                catch (TargetInvocationException)
                {
                    // A handler that fails leaves its cache as it was; unload verification reports the result.
                }
            }
        }
    }

    /// <summary>
    /// The providers registered with <see cref="TypeDescriptor"/> (the reflection-based default among them) cache
    /// type data per type (<c>ReflectTypeDescriptionProvider._typeData</c>). They are reached through the provider table,
    /// whose nodes chain providers through <c>Provider</c> and <c>Next</c>; TypeDescriptor writes that table under its lock.
    /// </summary>
    private static void ClearTypeDescriptionProviders()
    {
        if (typeof(TypeDescriptor).GetField("s_providerTable", StaticFields)?.GetValue(null) is not Hashtable table)
        {
            return;
        }

        var providers = new HashSet<object>(ReferenceEqualityComparer.Instance);
        lock (table)
        {
            foreach (var node in table.Values)
            {
                for (var current = node; current is not null; current = current.GetType().GetField("Next", InstanceFields)?.GetValue(current))
                {
                    if (current.GetType().GetField("Provider", InstanceFields)?.GetValue(current) is { } provider)
                    {
                        providers.Add(provider);
                    }
                }
            }
        }

        foreach (var provider in providers)
        {
            RemoveCollectibleKeysFromAllFields(provider);
        }
    }

    /// <summary>The cache is reached through static <c>Lazy&lt;ParameterBindingMethodCache&gt;</c> fields.</summary>
    private static void ClearParameterBindingCaches(Type cacheType)
    {
        foreach (var field in cacheType.GetFields(StaticFields))
        {
            if (field.FieldType.IsGenericType && field.FieldType.GetGenericTypeDefinition() == typeof(Lazy<>) &&
                field.GetValue(null) is { } lazy &&
                field.FieldType.GetProperty(nameof(Lazy<object>.IsValueCreated))!.GetValue(lazy) is true)
            {
                RemoveCollectibleKeysFromAllFields(field.FieldType.GetProperty(nameof(Lazy<object>.Value))!.GetValue(lazy));
            }
        }
    }

    private static void RemoveCollectibleKeysFromAllFields(object? instance)
    {
        if (instance is null)
        {
            return;
        }

        foreach (var field in instance.GetType().GetFields(InstanceFields))
        {
            RemoveCollectibleKeys(field.GetValue(instance) as IDictionary);
        }
    }

    private static void RemoveCollectibleKeys(Type owner, object? instance, params string[] fieldNames)
    {
        foreach (var name in fieldNames)
        {
            var field = owner.GetField(name, instance is null ? StaticFields : InstanceFields);
            RemoveCollectibleKeys(field?.GetValue(instance) as IDictionary);
        }
    }

    /// <summary>A collectible type, or a tuple with one (a cache keyed by type and name).</summary>
    private static bool IsCollectible(object key)
    {
        if (key is Type type)
        {
            return type.IsCollectible;
        }

        if (key is System.Runtime.CompilerServices.ITuple tuple)
        {
            for (var i = 0; i < tuple.Length; i++)
            {
                if (tuple[i] is Type { IsCollectible: true })
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Removes the entries keyed by a type from a collectible load context (ConcurrentDictionary: thread-safe).</summary>
    private static void RemoveCollectibleKeys(IDictionary? dictionary)
    {
        // Only concurrent dictionaries: others may not be written while the framework reads them.
        if (dictionary is null || !dictionary.GetType().Name.StartsWith("ConcurrentDictionary", StringComparison.Ordinal))
        {
            return;
        }

        var keys = new List<object>();
        foreach (var key in dictionary.Keys)
        {
            if (IsCollectible(key))
            {
                keys.Add(key);
            }
        }

        foreach (var key in keys)
        {
            dictionary.Remove(key);
        }
    }
}
