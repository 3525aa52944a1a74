using Microsoft.Extensions.Hosting;

namespace WorkerHosting.Tests.Fakes;

/// <summary>An application lifetime that records StopApplication.</summary>
internal sealed class FakeLifetime : IHostApplicationLifetime
{
    private readonly TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CancellationToken ApplicationStarted => CancellationToken.None;

    public CancellationToken ApplicationStopping => CancellationToken.None;

    public CancellationToken ApplicationStopped => CancellationToken.None;

    /// <summary>Completes when the app was asked to stop.</summary>
    public Task StopRequested => _stopRequested.Task;

    public void StopApplication() => _stopRequested.TrySetResult();
}
