using System.Reflection;
using System.Reflection.Metadata;
using System.Runtime.Loader;

namespace WorkerHosting.Workers;

/// <summary>
/// Clears the framework's reflection caches through the hot-reload convention (<see cref="MetadataUpdateHandlerAttribute"/>
/// types with a static <c>ClearCache(Type[]?)</c>). Those caches (System.Text.Json, MVC's PropertyHelper, ...) hold
/// app types from a worker's load context and would keep it from unloading.
/// </summary>
internal static class MetadataUpdateHandlers
{
    public static void ClearCaches()
    {
        // Only the shared framework's caches: reading the attributes of the app's own assembly in the default context
        // would touch a file that a build or deploy may be overwriting.
        var frameworkDirectories = new[]
        {
            Path.GetDirectoryName(typeof(object).Assembly.Location),
            Path.GetDirectoryName(typeof(Microsoft.AspNetCore.Builder.WebApplication).Assembly.Location),
        };

        foreach (var assembly in AssemblyLoadContext.Default.Assemblies)
        {
            if (assembly.IsDynamic || !frameworkDirectories.Contains(Path.GetDirectoryName(assembly.Location)))
            {
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
                var clearCache = handler.HandlerType.GetMethod(
                    "ClearCache",
                    BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic,
                    [typeof(Type[])]);

                try
                {
                    clearCache?.Invoke(null, [null]);
                }
                catch (TargetInvocationException)
                {
                    // A handler that fails to clear leaves its cache as it was; unload verification reports the result.
                }
            }
        }
    }
}
