using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace WorkerHosting.Coordinator;

/// <summary>
/// Outermost in the coordinator's pipeline: records the pipeline the coordinator's host builds (everything after it, the
/// app's whole pipeline) and adds nothing to it.
/// </summary>
internal sealed class CoordinatorPipelineStartupFilter(CoordinatorPipeline pipeline) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(rest =>
        {
            pipeline.OnBuilt(rest, app.ApplicationServices);
            return rest;
        });
        next(app);
    };
}
