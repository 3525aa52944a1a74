using System.Reflection;

namespace WorkerHosting.Workers;

/// <summary>
/// The app whose entry point every worker runs: the assembly that called <c>UseWorkers</c> when it has an entry
/// point, otherwise the process's entry assembly.
/// </summary>
internal sealed class WorkerApplication
{
    public WorkerApplication(Assembly assembly, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(assembly);

        if (assembly.EntryPoint is null)
        {
            throw new InvalidOperationException(
                $"WorkerHosting runs the app's entry point in every worker, but '{assembly.GetName().Name}' has none. Call UseWorkers from the app's Program.");
        }

        if (string.IsNullOrEmpty(assembly.Location))
        {
            throw new NotSupportedException(
                $"WorkerHosting loads '{assembly.GetName().Name}' from disk into every worker, but it has no file (a single-file or in-memory app). Publish the app as ordinary files.");
        }

        AssemblyName = assembly.GetName();
        AssemblyPath = assembly.Location;

        // Configuration file watching is off in workers: N hosts each watching the same files exhaust the system's
        // inotify instances, and the coordinator watches.
        Args = [.. args, "--hostBuilder:reloadConfigOnChange=false"];
    }

    /// <summary>The arguments every worker's entry point gets: those the app gave its builder, plus WorkerHosting's.</summary>
    public string[] Args { get; }

    public AssemblyName AssemblyName { get; }

    /// <summary>What a test registered for the app, carried into every worker (WorkerHosting.Testing); null otherwise.</summary>
    public WorkerOverrides? Overrides { get; init; }

    public string AssemblyPath { get; }

    public static Assembly Choose(Assembly callingAssembly)
        => callingAssembly.EntryPoint is not null ? callingAssembly : Assembly.GetEntryAssembly() ?? callingAssembly;
}
