using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace WorkerHosting.Workers;

/// <summary>
/// A collectible load context for one worker. The app's own assemblies (and the packages only it uses) are loaded
/// here, from bytes read off disk, so each worker has its own statics and a new build on disk can be loaded
/// while the old one runs. The shared framework and WorkerHosting itself come from the default context.
/// </summary>
internal sealed class WorkerLoadContext : AssemblyLoadContext
{
    private readonly AssemblyDependencyResolver _resolver;
    private readonly SharedAssemblies _shared;
    private readonly Dictionary<string, string> _testAssemblies = new(StringComparer.OrdinalIgnoreCase);
    private long _loadedBytes;

    public WorkerLoadContext(string name, string appAssemblyPath, SharedAssemblies shared)
        : base(name, isCollectible: true)
    {
        _resolver = new AssemblyDependencyResolver(appAssemblyPath);
        _shared = shared;
    }

    /// <summary>The bytes of the assemblies and symbols loaded into this context.</summary>
    public long LoadedBytes => Interlocked.Read(ref _loadedBytes);

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is null || _shared.Contains(assemblyName.Name))
        {
            return null;
        }

        string? path;
        lock (_testAssemblies)
        {
            path = _testAssemblies.GetValueOrDefault(assemblyName.Name);
        }

        path ??= _resolver.ResolveAssemblyToPath(assemblyName);
        if (path is null)
        {
            return null;
        }

        // Read the file into memory instead of mapping it, so overwriting it (a build or a deploy) never
        // changes the code a running worker executes.
        using var assembly = new MemoryStream(File.ReadAllBytes(path));
        Interlocked.Add(ref _loadedBytes, assembly.Length);
        var symbolsPath = Path.ChangeExtension(path, ".pdb");
        if (File.Exists(symbolsPath))
        {
            using var symbols = new MemoryStream(File.ReadAllBytes(symbolsPath));
            Interlocked.Add(ref _loadedBytes, symbols.Length);
            return LoadFromStream(assembly, symbols);
        }

        return LoadFromStream(assembly);
    }

    /// <summary>
    /// The worker's counterpart of an assembly loaded in the default context: the same assembly when workers share it
    /// (the frameworks, a test framework), the worker's own copy for the app's assemblies, and for an assembly that is
    /// not the app's but references it (a test project, with the fakes it registers) a copy loaded into this context
    /// from the same file, so that its types implement the worker's copy of the app's types.
    /// </summary>
    public Assembly LoadCounterpart(Assembly assembly)
    {
        var name = assembly.GetName();
        if (name.Name is null || _shared.Contains(name.Name))
        {
            return assembly;
        }

        if (_resolver.ResolveAssemblyToPath(name) is null)
        {
            if (string.IsNullOrEmpty(assembly.Location) || !ReferencesApp(assembly, []))
            {
                return assembly;
            }

            lock (_testAssemblies)
            {
                _testAssemblies[name.Name] = assembly.Location;
            }
        }

        return LoadFromAssemblyName(name);
    }

    private bool ReferencesApp(Assembly assembly, HashSet<string> visited)
    {
        foreach (var reference in assembly.GetReferencedAssemblies())
        {
            if (reference.Name is null || _shared.Contains(reference.Name) || !visited.Add(reference.Name))
            {
                continue;
            }

            if (_resolver.ResolveAssemblyToPath(reference) is not null)
            {
                return true;
            }

            var loaded = Default.Assemblies.FirstOrDefault(a => string.Equals(a.GetName().Name, reference.Name, StringComparison.OrdinalIgnoreCase));
            if (loaded is not null && ReferencesApp(loaded, visited))
            {
                return true;
            }
        }

        return false;
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }
}
