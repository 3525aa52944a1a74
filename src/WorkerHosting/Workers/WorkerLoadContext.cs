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

        var path = _resolver.ResolveAssemblyToPath(assemblyName);
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

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }
}
