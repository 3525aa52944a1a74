using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace WorkerHosting.Tests.Fakes;

/// <summary>One message a <see cref="RecordingLogger"/> was given.</summary>
internal sealed record LogEntry(EventId EventId, LogLevel Level, string Message, Exception? Exception);

/// <summary>A logger that keeps every message it is given, in order, for the test to inspect.</summary>
internal sealed class RecordingLogger : ILogger
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
        => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        _entries.Enqueue(new LogEntry(eventId, logLevel, formatter(state, exception), exception));
    }
}
