using System.Reflection;

namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>Where the test apps were built, and their source folders (each app's content root).</summary>
internal static class TestApps
{
    public const string Minimal = "MinimalApp";
    public const string Mvc = "MvcApp";
    public const string HostBuilder = "HostBuilderApp";
    public const string RealWorld = "RealWorldApp";
    public const string Otel = "OtelApp";

    public static string AssemblyPath(string app) => Path.GetFullPath(Path.Combine(Metadata("TestAppsRoot"), app, Metadata("TestAppsPivot"), app + ".dll"));

    public static string ContentRoot(string app) => Path.GetFullPath(Path.Combine(Metadata("TestAppsSourceRoot"), app));

    private static string Metadata(string key) =>
        typeof(TestApps).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"The test assembly has no '{key}' metadata.");
}
