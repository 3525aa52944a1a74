using System.Reflection;

namespace WorkerHosting.Workers;

/// <summary>
/// The two shared frameworks every worker uses from the default load context: Microsoft.NETCore.App and
/// Microsoft.AspNetCore.App.
/// </summary>
internal static class SharedFramework
{
    /// <summary>The frameworks' directories.</summary>
    public static IReadOnlyList<string> Directories { get; } =
    [
        Path.GetDirectoryName(typeof(object).Assembly.Location)!,
        Path.GetDirectoryName(typeof(Microsoft.AspNetCore.Builder.WebApplication).Assembly.Location)!,
    ];

    /// <summary>Whether an assembly is one of the shared frameworks'.</summary>
    public static bool Contains(Assembly assembly) =>
        !assembly.IsDynamic && Directories.Contains(Path.GetDirectoryName(assembly.Location), StringComparer.Ordinal);
}
