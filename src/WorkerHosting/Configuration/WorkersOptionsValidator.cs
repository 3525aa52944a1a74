using System.Globalization;
using Microsoft.Extensions.Options;

namespace WorkerHosting.Configuration;

/// <summary>
/// Validates <see cref="WorkersOptions"/> and reports every bad value at once, each with its configuration key,
/// the value given, and how to fix it.
/// </summary>
internal sealed class WorkersOptionsValidator : IValidateOptions<WorkersOptions>
{
    internal const int MaxCount = 1024;

    /// <summary>Keeps MaxRequests plus its jitter far from overflowing.</summary>
    internal const long MaxRequestLimit = 1_000_000_000_000;

    /// <summary>
    /// Keeps GracefulTimeout (and ShutdownDelay) plus the shutdown margin within what a host's shutdown timer takes (about 49 days).
    /// </summary>
    internal static readonly TimeSpan MaxGracefulTimeout = TimeSpan.FromDays(1);

    public ValidateOptionsResult Validate(string? name, WorkersOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        var builder = new ValidateOptionsResultBuilder();

        if (options.Count is < 1 or > MaxCount)
        {
            builder.AddError(string.Create(CultureInfo.InvariantCulture,
                $"{WorkersOptions.SectionName}:{nameof(WorkersOptions.Count)} must be between 1 and {MaxCount}; '{options.Count}' was given. Set it to the number of workers to run."));
        }

        if (options.GracefulTimeout <= TimeSpan.Zero || options.GracefulTimeout > MaxGracefulTimeout)
        {
            builder.AddError(string.Create(CultureInfo.InvariantCulture,
                $"{WorkersOptions.SectionName}:{nameof(WorkersOptions.GracefulTimeout)} must be positive and at most {MaxGracefulTimeout}; '{options.GracefulTimeout}' was given. Set it to a duration such as '00:00:30'."));
        }

        if (options.ShutdownDelay < TimeSpan.Zero || options.ShutdownDelay > MaxGracefulTimeout)
        {
            builder.AddError(Invalid(nameof(WorkersOptions.ShutdownDelay), options.ShutdownDelay, $"must be zero (no delay) or positive, and at most {MaxGracefulTimeout}", "a duration such as '00:00:05'"));
        }

        if (options.StartupTimeout <= TimeSpan.Zero || options.StartupTimeout > MaxGracefulTimeout)
        {
            builder.AddError(Invalid(nameof(WorkersOptions.StartupTimeout), options.StartupTimeout, $"must be positive and at most {MaxGracefulTimeout}", "a duration such as '00:00:30'"));
        }

        if (options.MaxRequests is < 0 or > MaxRequestLimit)
        {
            builder.AddError(Invalid(nameof(WorkersOptions.MaxRequests), options.MaxRequests, $"must be 0 (off) or positive, and at most {MaxRequestLimit}", "the number of requests a worker serves before it is replaced"));
        }

        if (options.MaxRequestsJitter is < 0 or > MaxRequestLimit)
        {
            builder.AddError(Invalid(nameof(WorkersOptions.MaxRequestsJitter), options.MaxRequestsJitter, $"must be 0 or positive, and at most {MaxRequestLimit}", "the most requests added at random to MaxRequests"));
        }

        if (options.MaxLeakedWorkers < 0)
        {
            builder.AddError(Invalid(nameof(WorkersOptions.MaxLeakedWorkers), options.MaxLeakedWorkers, "must be 0 or positive", "the number of stopped workers that may stay in memory before an error is logged"));
        }

        if (options.PidFile is { } pidFile &&
            (string.IsNullOrWhiteSpace(pidFile) || !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(pidFile)))))
        {
            builder.AddError(Invalid(nameof(WorkersOptions.PidFile), pidFile, "must be a file in an existing directory", "a path such as '/run/myapp/myapp.pid', or remove it"));
        }

        var restart = options.Restart;
        const string Restart = nameof(WorkersOptions.Restart) + ":";
        if (restart.Delay <= TimeSpan.Zero || restart.Delay > MaxGracefulTimeout)
        {
            builder.AddError(Invalid(Restart + nameof(WorkerRestartOptions.Delay), restart.Delay, $"must be positive and at most {MaxGracefulTimeout}", "a duration such as '00:00:00.500'"));
        }

        if (restart.MaxDelay < restart.Delay || restart.MaxDelay > MaxGracefulTimeout)
        {
            builder.AddError(Invalid(Restart + nameof(WorkerRestartOptions.MaxDelay), restart.MaxDelay, $"must be at least Workers:Restart:Delay ('{restart.Delay}') and at most {MaxGracefulTimeout}", "a duration such as '00:00:30'"));
        }

        if (restart.ResetAfter <= TimeSpan.Zero || restart.ResetAfter > MaxGracefulTimeout)
        {
            builder.AddError(Invalid(Restart + nameof(WorkerRestartOptions.ResetAfter), restart.ResetAfter, $"must be positive and at most {MaxGracefulTimeout}", "a duration such as '00:00:30'"));
        }

        if (restart.MaxFailures < 1)
        {
            builder.AddError(Invalid(Restart + nameof(WorkerRestartOptions.MaxFailures), restart.MaxFailures, "must be at least 1", "the number of failures tolerated within Workers:Restart:FailureWindow"));
        }

        if (restart.FailureWindow <= TimeSpan.Zero)
        {
            builder.AddError(Invalid(Restart + nameof(WorkerRestartOptions.FailureWindow), restart.FailureWindow, "must be positive", "a duration such as '00:01:00'"));
        }

        return builder.Build();
    }

    private static string Invalid(string key, object value, string rule, string fix)
        => string.Create(CultureInfo.InvariantCulture, $"{WorkersOptions.SectionName}:{key} {rule}; '{value}' was given. Set it to {fix}.");
}
