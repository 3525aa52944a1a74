using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Coordinator;

/// <summary>
/// The app's request pipeline as the coordinator's host built it (the coordinator's Kestrel never accepts a connection),
/// and the paths it answers for the workers (<see cref="CoordinatorPaths"/>): a worker hands such a request, on its own
/// connection, to this pipeline, which runs it with the coordinator's services (its OpenTelemetry providers).
/// </summary>
internal sealed partial class CoordinatorPipeline(ILogger<CoordinatorPipeline> logger)
{
    private State? _state;

    /// <summary>The paths the coordinator answers; none until its pipeline is built.</summary>
    public CoordinatorPaths Paths => Volatile.Read(ref _state)?.Paths.Value ?? CoordinatorPaths.None;

    /// <summary>Records the pipeline the coordinator's host built, and the services it runs with.</summary>
    public void OnBuilt(RequestDelegate pipeline, IServiceProvider services) =>
        Volatile.Write(ref _state, new State(pipeline, services.GetRequiredService<IServiceScopeFactory>(), new(() => FindPaths(services))));

    /// <summary>Whether a worker hands the request for <paramref name="path"/> to the coordinator.</summary>
    public bool Serves(PathString path) => Paths.Contains(path);

    /// <summary>
    /// Runs a worker's request through the coordinator's pipeline: a context of its own, over the worker's features (the
    /// connection, the request, the response), with the coordinator's request services layered on top, so that the
    /// worker's own features are left as they were. The endpoint the coordinator matched is the worker's request's too
    /// (its <c>http.route</c> in the worker's metrics and spans).
    /// </summary>
    public async Task InvokeAsync(HttpContext workerContext)
    {
        var state = Volatile.Read(ref _state) ?? throw new InvalidOperationException("The coordinator's pipeline is not built.");
        var features = new FeatureCollection(workerContext.Features);
        var context = new DefaultHttpContext(features);
        var requestServices = new RequestServicesFeature(context, state.ScopeFactory);
        features.Set<IServiceProvidersFeature>(requestServices);
        try
        {
            await state.Pipeline(context).ConfigureAwait(false);
        }
        finally
        {
            if (features.Get<IEndpointFeature>()?.Endpoint is { } endpoint)
            {
                workerContext.SetEndpoint(endpoint);
            }

            await requestServices.DisposeAsync().ConfigureAwait(false);
        }
    }

    private CoordinatorPaths FindPaths(IServiceProvider services)
    {
        var paths = CoordinatorPaths.FromEndpoints(services.GetService<EndpointDataSource>()?.Endpoints ?? []);
        if (paths.Paths.Count > 0)
        {
            Log.ServingPaths(logger, string.Join(", ", paths.Paths));
        }

        return paths;
    }

    private sealed record State(RequestDelegate Pipeline, IServiceScopeFactory ScopeFactory, Lazy<CoordinatorPaths> Paths);

    private static partial class Log
    {
        [LoggerMessage(WorkersEventIds.CoordinatorServesPaths, LogLevel.Information,
            "Requests for {Paths} are answered by the coordinator's pipeline, whichever worker receives them.", EventName = "CoordinatorServesPaths")]
        public static partial void ServingPaths(ILogger logger, string paths);
    }
}
