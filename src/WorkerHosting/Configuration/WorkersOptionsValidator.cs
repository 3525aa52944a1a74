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

    /// <summary>
    /// Keeps GracefulTimeout plus the shutdown margin within what a host's shutdown timer takes (about 49 days).
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

        return builder.Build();
    }
}
