using System.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace WorkerHosting.Workers;

/// <summary>
/// Runs inside a worker's host, registered after the app's own services. It tells the coordinator when the
/// host has started (the worker is ready), gives it the means to stop the host, and reports what a drain cut
/// when the graceful timeout runs out.
/// </summary>
internal sealed class WorkerAgent(
    WorkerRuntime runtime,
    IHostApplicationLifetime lifetime,
    IOptions<HostOptions> hostOptions,
    IWebHostEnvironment? webHostEnvironment,
    DiagnosticListener? hostDiagnosticListener,
    IHttpClientFactory? httpClientFactory) : IHostedLifecycleService
{
    private CancellationTokenRegistration _drainDeadline;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        runtime.OnHostStarting(Stop);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        // Framework components of this host that nothing disposes, released once the worker's entry point has returned
        // (its host stopped and disposed), so that nothing the app does while stopping finds them gone:
        // - the IHttpClientFactory's handler timers outlive the container (dotnet/runtime#113494) and hold the handlers,
        //   their scopes and this worker's code for the handler lifetime and more;
        // - the web host registers a DiagnosticListener of its own ("Microsoft.AspNetCore") as an instance, which the
        //   container never disposes: every worker generation would add one to the process's list of listeners, and
        //   subscribers in the live workers (OpenTelemetry's instrumentation) would keep subscribing to it.
        var factory = httpClientFactory;
        var listener = hostDiagnosticListener;
        if (factory is not null || listener is not null)
        {
            runtime.OnEntryPointReturned(() =>
            {
                if (factory is not null)
                {
                    HttpClientFactoryTimers.Stop(factory);
                }

                if (listener is not null)
                {
                    ProcessRegistrations.DisposeListener(listener);
                }
            });
        }

        runtime.OnHostStarted();
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        // The host's stop token fires when its shutdown timeout (the graceful timeout) has run out: Kestrel
        // aborts what is left at that moment, so that is when to count it.
        _drainDeadline = cancellationToken.UnsafeRegister(static state => ((WorkerRuntime)state!).OnDrainDeadline(), runtime);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Stops the worker's host, which drains for <paramref name="gracefulTimeout"/>: the host reads its shutdown
    /// timeout when the stop begins, so a fast stop (SIGQUIT) or a drain with less time left sets it first.
    /// </summary>
    private void Stop(TimeSpan gracefulTimeout)
    {
        hostOptions.Value.ShutdownTimeout = gracefulTimeout;
        lifetime.StopApplication();
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        _drainDeadline.Dispose();

        // Nothing disposes the web root's file provider when a host stops; its file watcher (asp-append-version and
        // static files watch wwwroot) would keep a thread, and with it this worker's code, alive after unloading.
        if (webHostEnvironment is not null)
        {
            DisposeFileProvider(webHostEnvironment.WebRootFileProvider);
            DisposeFileProvider(webHostEnvironment.ContentRootFileProvider);
        }

        return Task.CompletedTask;
    }

    private static void DisposeFileProvider(IFileProvider? provider)
    {
        switch (provider)
        {
            case CompositeFileProvider composite:
                foreach (var inner in composite.FileProviders)
                {
                    DisposeFileProvider(inner);
                }

                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }
}
