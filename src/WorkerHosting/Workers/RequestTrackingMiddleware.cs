using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace WorkerHosting.Workers;

/// <summary>
/// The outermost middleware of a worker: counts requests in flight and served, tells the connection's tracker that a
/// request runs on it (so the coordinator knows a connection it handed off is being served, and a draining worker asks
/// the connection to close with this response).
/// </summary>
internal sealed class RequestTrackingMiddleware(RequestDelegate next, WorkerRuntime runtime)
{
    public Task InvokeAsync(HttpContext context)
    {
        ConnectionTracker? tracker = null;
        if (context.Features.Get<IConnectionItemsFeature>()?.Items is { } items &&
            items.TryGetValue(ConnectionTracker.ItemKey, out var item))
        {
            tracker = (ConnectionTracker)item!;
            tracker.OnRequest(HttpProtocol.IsHttp2(context.Request.Protocol), context.Features);
        }

        runtime.OnRequestStarted();
        Task task;
        try
        {
            task = next(context);
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
