using System.Runtime.CompilerServices;

namespace WorkerHosting.Tests.Common;

/// <summary>
/// Bounds every wait in a test (STYLE.md §8): a wait that never ends fails the test with the file and line that
/// waited, instead of hanging the run.
/// </summary>
public static class TaskTimeoutExtensions
{
    public static readonly TimeSpan DefaultTimeoutValue = TimeSpan.FromSeconds(30);

    public static async Task<T> DefaultTimeout<T>(this Task<T> task, [CallerFilePath] string? file = null, [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(task);
        try
        {
            return await task.WaitAsync(DefaultTimeoutValue);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"Timed out after {DefaultTimeoutValue} at {Path.GetFileName(file)}:{line}.", e);
        }
    }

    public static async Task DefaultTimeout(this Task task, [CallerFilePath] string? file = null, [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(task);
        try
        {
            await task.WaitAsync(DefaultTimeoutValue);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"Timed out after {DefaultTimeoutValue} at {Path.GetFileName(file)}:{line}.", e);
        }
    }
}
