using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace WorkerHosting.Workers;

internal sealed class RequestTrackingStartupFilter(WorkerRuntime runtime) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(inner => new RequestTrackingMiddleware(inner, runtime).InvokeAsync);
        next(app);
    };
}
