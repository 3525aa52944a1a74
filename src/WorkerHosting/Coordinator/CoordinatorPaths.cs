using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace WorkerHosting.Coordinator;

/// <summary>
/// The request paths the coordinator's pipeline answers, whichever worker receives them: the endpoints that read what
/// only the coordinator has. Today those are OpenTelemetry's (the Prometheus scraping endpoint reads the app's
/// <c>MeterProvider</c>, which runs in the coordinator): endpoints with a literal route whose handler is OpenTelemetry's
/// code (an assembly named <c>OpenTelemetry.*</c>).
/// </summary>
internal sealed class CoordinatorPaths
{
    public static readonly CoordinatorPaths None = new([]);

    private readonly string[] _paths;

    public CoordinatorPaths(IEnumerable<string> paths) => _paths = [.. paths.Select(Normalize).Distinct(StringComparer.OrdinalIgnoreCase)];

    public IReadOnlyList<string> Paths => _paths;

    /// <summary>Whether a request for <paramref name="path"/> is the coordinator's (the case and a trailing slash aside, as routing matches).</summary>
    public bool Contains(PathString path)
    {
        if (_paths.Length == 0 || path.Value is not { Length: > 0 } value)
        {
            return false;
        }

        var span = value.AsSpan();
        if (span.Length > 1 && span[^1] == '/')
        {
            span = span[..^1];
        }

        foreach (var candidate in _paths)
        {
            if (span.Equals(candidate, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The paths of the coordinator's endpoints that <paramref name="isCoordinators"/> (by default, OpenTelemetry's) picks.</summary>
    public static CoordinatorPaths FromEndpoints(IEnumerable<Endpoint> endpoints, Func<Endpoint, bool>? isCoordinators = null)
    {
        isCoordinators ??= IsOpenTelemetrys;
        var paths = new List<string>();
        foreach (var endpoint in endpoints)
        {
            // Only a route with no parameters names one path.
            if (endpoint is RouteEndpoint { RoutePattern: { Parameters.Count: 0, RawText: { } path } } && isCoordinators(endpoint))
            {
                paths.Add(path);
            }
        }

        return new CoordinatorPaths(paths);
    }

    /// <summary>Whether the endpoint's handler is OpenTelemetry's code (the middleware of MapPrometheusScrapingEndpoint).</summary>
    public static bool IsOpenTelemetrys(Endpoint endpoint) =>
        endpoint.RequestDelegate is { } handler &&
        (IsOpenTelemetry(handler.Target?.GetType().Assembly) || IsOpenTelemetry(handler.Method.DeclaringType?.Assembly));

    private static bool IsOpenTelemetry(Assembly? assembly) =>
        assembly?.GetName().Name?.StartsWith("OpenTelemetry.", StringComparison.Ordinal) == true;

    private static string Normalize(string path)
    {
        path = path.Trim();
        if (path.StartsWith("~/", StringComparison.Ordinal))
        {
            path = path[1..];
        }

        if (!path.StartsWith('/'))
        {
            path = "/" + path;
        }

        return path.Length > 1 ? path.TrimEnd('/') : path;
    }
}
