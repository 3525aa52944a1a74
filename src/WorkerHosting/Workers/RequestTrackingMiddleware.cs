using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using WorkerHosting.Coordinator;

namespace WorkerHosting.Workers;

/// <summary>
/// The outermost middleware of a worker: counts requests in flight and served, tells the connection's tracker that a
/// request runs on it (so the coordinator knows a connection it handed off is being served, and a draining worker asks
/// the connection to close with this response), tags the request's <c>http.server.request.duration</c> with the
/// worker's slot, and hands the requests for the coordinator's paths (the app's scraping endpoint) to the coordinator's
/// pipeline.
/// </summary>
internal sealed class RequestTrackingMiddleware(RequestDelegate next, WorkerRuntime runtime)
{
    private readonly CoordinatorPipeline? _coordinator = runtime.Coordinator;

    /// <summary>The tag that tells which worker served a request: its slot, bounded by the largest worker count.</summary>
    public const string SlotTagName = "workerhosting.worker.slot";

    private readonly KeyValuePair<string, object?> _slotTag = new(SlotTagName, runtime.Slot);

    public Task InvokeAsync(HttpContext context)
    {
        // Present only while a listener (OpenTelemetry, dotnet-counters) records http.server.request.duration. The
        // workers record into the same instruments (meters are process-wide, and the framework's are shared): the slot
        // keeps them apart.
        context.Features.Get<IHttpMetricsTagsFeature>()?.Tags.Add(_slotTag);

        ConnectionTracker? tracker = null;
        var holdForGoAway = false;
        if (context.Features.Get<IConnectionItemsFeature>()?.Items is { } items &&
            items.TryGetValue(ConnectionTracker.ItemKey, out var item))
        {
            tracker = (ConnectionTracker)item!;
            holdForGoAway = tracker.OnRequest(HttpProtocol.IsHttp2(context.Request.Protocol), context.Features);
        }

        runtime.OnRequestStarted();
        if (holdForGoAway)
        {
            return HoldThenInvoke(context, tracker);
        }

        Task task;
        try
        {
            task = Next(context);
        }
        catch
        {
            OnEnded(tracker);
            throw;
        }

        if (task.IsCompletedSuccessfully)
        {
            OnEnded(tracker);
            return Task.CompletedTask;
        }

        return AwaitRequest(task, tracker);
    }

    /// <summary>
    /// Runs the HTTP/2 request that asked its draining connection to close after <see cref="WorkerRuntime.DrainGoAwayHold"/>,
    /// so that its stream is open when Kestrel acts on the close (GOAWAY first, the close once the streams have finished).
    /// </summary>
    private async Task HoldThenInvoke(HttpContext context, ConnectionTracker? tracker)
    {
        try
        {
            await Task.Delay(WorkerRuntime.DrainGoAwayHold, runtime.TimeProvider, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The client is gone: the request runs now and sees it aborted, as it would have.
        }

        try
        {
            await Next(context).ConfigureAwait(false);
        }
        finally
        {
            OnEnded(tracker);
        }
    }

    private Task Next(HttpContext context) =>
        _coordinator is not null && _coordinator.Serves(context.Request.Path) ? _coordinator.InvokeAsync(context) : next(context);

    private async Task AwaitRequest(Task task, ConnectionTracker? tracker)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            OnEnded(tracker);
        }
    }

    private void OnEnded(ConnectionTracker? tracker)
    {
        tracker?.OnRequestEnded();
        runtime.OnRequestEnded();
    }
}
