using System.Runtime.CompilerServices;

namespace WorkerHosting.FunctionalTests.Infrastructure;

internal static class TaskTimeoutExtensions
{
    public static readonly TimeSpan DefaultTimeoutValue = TimeSpan.FromSeconds(30);

    public static async Task<T> DefaultTimeout<T>(this Task<T> task, [CallerFilePath] string? file = null, [CallerLineNumber] int line = 0)
    {
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
