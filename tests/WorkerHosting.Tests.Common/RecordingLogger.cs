using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace WorkerHosting.Tests.Common;

/// <summary>One message a <see cref="RecordingLogger"/> was given.</summary>
public sealed record LogEntry(EventId EventId, LogLevel Level, string Message, Exception? Exception);

/// <summary>
/// A logger that keeps every message it is given, in order, for the test to inspect, and lets a test wait for a
/// message by its event id instead of polling.
/// </summary>
public sealed class RecordingLogger : ILogger
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private readonly List<(int EventId, int Count, TaskCompletionSource Logged)> _waiters = [];

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
        => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        _entries.Enqueue(new LogEntry(eventId, logLevel, formatter(state, exception), exception));
        lock (_waiters)
        {
            foreach (var waiter in _waiters.Where(w => Count(w.EventId) >= w.Count).ToArray())
            {
                waiter.Logged.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>How many messages with the event id were logged so far.</summary>
    public int Count(int eventId) => _entries.Count(e => e.EventId.Id == eventId);

    /// <summary>
    /// Waits until <paramref name="count"/> messages with the event id have been logged; times out after
    /// <see cref="TaskTimeoutExtensions.DefaultTimeoutValue"/>, naming the caller's file and line.
    /// </summary>
    public Task WaitForAsync(int eventId, int count = 1, [CallerFilePath] string? file = null, [CallerLineNumber] int line = 0)
    {
        var logged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            if (Count(eventId) >= count)
            {
                return Task.CompletedTask;
            }

            _waiters.Add((eventId, count, logged));
        }

        return logged.Task.DefaultTimeout(file, line);
    }
}
