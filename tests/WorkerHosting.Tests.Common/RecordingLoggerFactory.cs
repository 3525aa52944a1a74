using Microsoft.Extensions.Logging;

namespace WorkerHosting.Tests.Common;

/// <summary>Gives one <see cref="RecordingLogger"/> for every category.</summary>
public sealed class RecordingLoggerFactory : ILoggerFactory
{
    public RecordingLogger Logger { get; } = new();

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => Logger;

    public void Dispose()
    {
    }
}
