using System.Reflection;
using System.Runtime.InteropServices;

namespace WorkerHosting.Workers;

/// <summary>
/// The assemblies every worker shares with the default load context: the shared frameworks (one copy of
/// ASP.NET Core and its caches; a private copy per worker costs ~460 ms and ~17 MB each), and WorkerHosting with
/// its own dependencies, which carry the contract between the coordinator and the workers.
/// </summary>
internal sealed class SharedAssemblies
{
    private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase);

    public SharedAssemblies(IEnumerable<string> names) => _names.UnionWith(names);

    public bool Contains(string name) => _names.Contains(name);

    public static SharedAssemblies Create()
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        foreach (var directory in SharedFramework.Directories)
        {
            if (!string.IsNullOrEmpty(directory) && Directory.Exists(directory))
            {
                foreach (var file in Directory.EnumerateFiles(directory, "*.dll"))
                {
                    names.Add(Path.GetFileNameWithoutExtension(file));
                }
            }
        }

        // WorkerHosting and what it references outside the frameworks (Polly.Core, ...).
        var pending = new Stack<Assembly>();
        var visited = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        pending.Push(typeof(SharedAssemblies).Assembly);
        while (pending.TryPop(out var assembly))
        {
            if (assembly.GetName().Name is not { } name || !visited.Add(name))
            {
                continue;
            }

            names.Add(name);
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (reference.Name is { } referenceName && !names.Contains(referenceName) && !visited.Contains(referenceName))
                {
                    try
                    {
                        pending.Push(Assembly.Load(reference));
                    }
                    catch (FileNotFoundException)
                    {
                        // Referenced but not deployed (never used at run time): nothing to share.
                    }
                }
            }
        }

        return new SharedAssemblies(names);
    }
}
