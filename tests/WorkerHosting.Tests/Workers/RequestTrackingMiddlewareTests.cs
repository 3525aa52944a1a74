using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using WorkerHosting.Diagnostics;
using WorkerHosting.Tests.Fakes;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Workers;

public sealed class RequestTrackingMiddlewareTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [Fact]
    public async Task InvokeAsync_RequestDurationRecorded_TagsItWithTheWorkersSlot()
    {
        var tags = new MetricsTags();
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpMetricsTagsFeature>(tags);
        var middleware = new RequestTrackingMiddleware(_ => Task.CompletedTask, NewRuntime(slot: 3));

        await middleware.InvokeAsync(context);

        var tag = Assert.Single(tags.Tags);
        Assert.Equal("workerhosting.worker.slot", tag.Key);
        Assert.Equal(3, tag.Value);
    }

    [Fact]
    public async Task InvokeAsync_NoListenerRecordsTheDuration_ServesTheRequestWithoutTagging()
    {
        var called = false;
        var middleware = new RequestTrackingMiddleware(_ =>
        {
            called = true;
            return Task.CompletedTask;
        }, NewRuntime(slot: 0));

        await middleware.InvokeAsync(new DefaultHttpContext());

        Assert.True(called);
    }

    public void Dispose() => _services.Dispose();

    private WorkerRuntime NewRuntime(int slot) => new(slot, 1, [], TimeSpan.FromSeconds(1), endpoints: null!,
        new SocketConnectionContextFactory(new SocketConnectionFactoryOptions(), NullLogger.Instance),
        NullLogger.Instance, TimeProvider.System, new FakeWorkerPool(), new WorkersMetrics(_services.GetRequiredService<IMeterFactory>()), new WorkerHosting.Coordinator.ShutdownState());

    /// <summary>What ASP.NET Core's hosting sets while a listener records http.server.request.duration.</summary>
    private sealed class MetricsTags : IHttpMetricsTagsFeature
    {
        public ICollection<KeyValuePair<string, object?>> Tags { get; } = [];

        public bool MetricsDisabled { get; set; }
    }
}
