using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using WorkerHosting.Coordinator;

namespace WorkerHosting.Tests.Coordinator;

public class CoordinatorPathsTests
{
    [Theory]
    [InlineData("/metrics", true)]
    [InlineData("/Metrics", true)]
    [InlineData("/metrics/", true)]
    [InlineData("/metrics/x", false)]
    [InlineData("/metricsx", false)]
    [InlineData("/", false)]
    [InlineData("", false)]
    public void Contains_MatchesAsRoutingDoes(string path, bool expected) =>
        Assert.Equal(expected, new CoordinatorPaths(["/metrics"]).Contains(new PathString(path)));

    [Theory]
    [InlineData("metrics")]
    [InlineData("/metrics/")]
    [InlineData("~/metrics")]
    public void Paths_AreNormalized(string path) => Assert.Equal(["/metrics"], new CoordinatorPaths([path]).Paths);

    [Fact]
    public void None_ContainsNothing() => Assert.False(CoordinatorPaths.None.Contains(new PathString("/metrics")));

    [Fact]
    public void FromEndpoints_TakesThePickedEndpointsWithALiteralRoute()
    {
        Endpoint[] endpoints =
        [
            Route("/metrics", picked: true),
            Route("/items/{id}", picked: true),
            Route("/", picked: false),
            new Endpoint(_ => Task.CompletedTask, EndpointMetadataCollection.Empty, "picked, not routed"),
        ];

        var paths = CoordinatorPaths.FromEndpoints(endpoints, e => e.Metadata.GetMetadata<Picked>() is not null || e.DisplayName == "picked, not routed");

        Assert.Equal(["/metrics"], paths.Paths);
    }

    [Fact]
    public void FromEndpoints_ByDefault_TakesOnlyOpenTelemetrysEndpoints()
    {
        // The app's own handlers are not OpenTelemetry's (its scraping endpoint is checked by the functional tests).
        var paths = CoordinatorPaths.FromEndpoints([Route("/metrics", picked: false), Route("/", picked: false)]);

        Assert.Empty(paths.Paths);
    }

    private static RouteEndpoint Route(string pattern, bool picked) =>
        new(_ => Task.CompletedTask, RoutePatternFactory.Parse(pattern), 0,
            picked ? new EndpointMetadataCollection(new Picked()) : EndpointMetadataCollection.Empty, pattern);

    private sealed class Picked;
}
