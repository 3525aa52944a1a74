using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace WorkerHosting.Workers;

/// <summary>
/// The outermost middleware of a worker: counts requests in flight and served, and marks a connection's first
/// request so the coordinator knows the connection it handed off is being served.
/// </summary>
internal sealed class RequestTrackingMiddleware(RequestDelegate next, WorkerRuntime runtime)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<IConnectionItemsFeature>()?.Items is { } items &&
            items.TryGetValue(ConnectionTracker.ItemKey, out var tracker))
        {
            ((ConnectionTracker)tracker!).OnRequest();
        }

        runtime.OnRequestStarted();
        Task task;
        try
        {
            task = next(context);
        }
        catch
        {
            runtime.OnRequestEnded();
            throw;
        }

        if (task.IsCompletedSuccessfully)
        {
            runtime.OnRequestEnded();
            return Task.CompletedTask;
        }

        return AwaitRequest(task);
    }

    private async Task AwaitRequest(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            runtime.OnRequestEnded();
        }
    }
}
