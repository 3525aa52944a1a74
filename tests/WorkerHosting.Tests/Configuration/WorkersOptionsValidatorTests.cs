using WorkerHosting.Configuration;

namespace WorkerHosting.Tests.Configuration;

public class WorkersOptionsValidatorTests
{
    private readonly WorkersOptionsValidator _validator = new();

    [Fact]
    public void Validate_ValidOptions_Succeeds()
    {
        var result = _validator.Validate(null, new WorkersOptions { Count = 4, GracefulTimeout = TimeSpan.FromSeconds(10) });

        Assert.True(result.Succeeded);
        Assert.False(result.Failed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1024)]
    public void Validate_CountAtBounds_Succeeds(int count)
    {
        var result = _validator.Validate(null, new WorkersOptions { Count = count });

        Assert.True(result.Succeeded);
    }

    [Fact]
    public void Validate_CountZero_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { Count = 0 });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:Count", failure, StringComparison.Ordinal);
        Assert.Contains("'0'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_CountNegative_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { Count = -3 });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:Count", failure, StringComparison.Ordinal);
        Assert.Contains("'-3'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_CountAboveMaximum_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { Count = 1025 });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:Count", failure, StringComparison.Ordinal);
        Assert.Contains("'1025'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ShutdownDelayZeroOrPositive_Succeeds()
    {
        Assert.True(_validator.Validate(null, new WorkersOptions { ShutdownDelay = TimeSpan.Zero }).Succeeded);
        Assert.True(_validator.Validate(null, new WorkersOptions { ShutdownDelay = TimeSpan.FromSeconds(5) }).Succeeded);
    }

    [Fact]
    public void Validate_ShutdownDelayNegative_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { ShutdownDelay = TimeSpan.FromSeconds(-1) });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:ShutdownDelay", failure, StringComparison.Ordinal);
        Assert.Contains("'-00:00:01'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ShutdownDelayAboveOneDay_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { ShutdownDelay = TimeSpan.FromDays(2) });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:ShutdownDelay", failure, StringComparison.Ordinal);
        Assert.Contains("'2.00:00:00'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_PidFileInAnExistingDirectory_Succeeds()
    {
        var result = _validator.Validate(null, new WorkersOptions { PidFile = Path.Combine(Path.GetTempPath(), "app.pid") });

        Assert.True(result.Succeeded);
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("/no/such/directory/app.pid")]
    public void Validate_PidFileNotInAnExistingDirectory_FailsNamingKeyAndValue(string pidFile)
    {
        var result = _validator.Validate(null, new WorkersOptions { PidFile = pidFile });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:PidFile", failure, StringComparison.Ordinal);
        Assert.Contains($"'{pidFile}'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_GracefulTimeoutZero_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { GracefulTimeout = TimeSpan.Zero });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:GracefulTimeout", failure, StringComparison.Ordinal);
        Assert.Contains("'00:00:00'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_GracefulTimeoutNegative_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { GracefulTimeout = TimeSpan.FromSeconds(-5) });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:GracefulTimeout", failure, StringComparison.Ordinal);
        Assert.Contains("'-00:00:05'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_GracefulTimeoutAboveOneDay_FailsNamingKeyAndValue()
    {
        // Beyond a day the host's shutdown timer (GracefulTimeout + 5 s) would overflow or be refused.
        var result = _validator.Validate(null, new WorkersOptions { GracefulTimeout = TimeSpan.FromDays(60) });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:GracefulTimeout", failure, StringComparison.Ordinal);
        Assert.Contains("'60.00:00:00'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_GracefulTimeoutOfOneDay_Succeeds()
    {
        Assert.True(_validator.Validate(null, new WorkersOptions { GracefulTimeout = TimeSpan.FromDays(1) }).Succeeded);
    }

    [Fact]
    public void Validate_CountAndGracefulTimeoutInvalid_ReportsBothErrors()
    {
        var result = _validator.Validate(null, new WorkersOptions { Count = 0, GracefulTimeout = TimeSpan.Zero });

        var failures = FailuresOf(result);
        Assert.Equal(2, failures.Count);
        Assert.Contains(failures, f => f.Contains("Workers:Count", StringComparison.Ordinal) && f.Contains("'0'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Workers:GracefulTimeout", StringComparison.Ordinal) && f.Contains("'00:00:00'", StringComparison.Ordinal));
        Assert.Contains("Workers:Count", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Workers:GracefulTimeout", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_StartupTimeoutZero_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { StartupTimeout = TimeSpan.Zero });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:StartupTimeout", failure, StringComparison.Ordinal);
        Assert.Contains("'00:00:00'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_StartupTimeoutNegative_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { StartupTimeout = TimeSpan.FromSeconds(-5) });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:StartupTimeout", failure, StringComparison.Ordinal);
        Assert.Contains("'-00:00:05'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_StartupTimeoutAboveOneDay_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { StartupTimeout = TimeSpan.FromDays(2) });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:StartupTimeout", failure, StringComparison.Ordinal);
        Assert.Contains("'2.00:00:00'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_StartupTimeoutOfOneDay_Succeeds()
    {
        Assert.True(_validator.Validate(null, new WorkersOptions { StartupTimeout = TimeSpan.FromDays(1) }).Succeeded);
    }

    [Fact]
    public void Validate_MaxRequestsNegative_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { MaxRequests = -1 });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:MaxRequests", failure, StringComparison.Ordinal);
        Assert.Contains("'-1'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MaxRequestsJitterNegative_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { MaxRequestsJitter = -7 });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:MaxRequestsJitter", failure, StringComparison.Ordinal);
        Assert.Contains("'-7'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MaxLeakedWorkersNegative_FailsNamingKeyAndValue()
    {
        var result = _validator.Validate(null, new WorkersOptions { MaxLeakedWorkers = -1 });

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:MaxLeakedWorkers", failure, StringComparison.Ordinal);
        Assert.Contains("'-1'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MaxLeakedWorkersZero_Succeeds()
    {
        Assert.True(_validator.Validate(null, new WorkersOptions { MaxLeakedWorkers = 0 }).Succeeded);
    }

    [Fact]
    public void Validate_MaxRequestsAndJitterZeroOrPositive_Succeeds()
    {
        Assert.True(_validator.Validate(null, new WorkersOptions { MaxRequests = 0, MaxRequestsJitter = 0 }).Succeeded);
        Assert.True(_validator.Validate(null, new WorkersOptions { MaxRequests = 1000, MaxRequestsJitter = 50 }).Succeeded);
    }

    [Fact]
    public void Validate_RestartDelayZero_FailsNamingKeyAndValue()
    {
        var options = new WorkersOptions();
        options.Restart.Delay = TimeSpan.Zero;

        var result = _validator.Validate(null, options);

        var failure = Assert.Single(FailuresOf(result));
        Assert.StartsWith("Workers:Restart:Delay ", failure, StringComparison.Ordinal);
        Assert.Contains("'00:00:00' was given", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RestartDelayAboveOneDay_FailsNamingKeyAndValue()
    {
        var options = new WorkersOptions();
        options.Restart.Delay = TimeSpan.FromDays(2);

        var result = _validator.Validate(null, options);

        // MaxDelay (30 s by default, at most a day) can no longer be at least Delay, so it is reported too.
        var failures = FailuresOf(result);
        Assert.Equal(2, failures.Count);
        var failure = Assert.Single(failures, f => f.StartsWith("Workers:Restart:Delay ", StringComparison.Ordinal));
        Assert.Contains("'2.00:00:00' was given", failure, StringComparison.Ordinal);
        Assert.Single(failures, f => f.StartsWith("Workers:Restart:MaxDelay ", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_RestartMaxDelaySmallerThanDelay_FailsNamingKeyAndValue()
    {
        var options = new WorkersOptions();
        options.Restart.Delay = TimeSpan.FromSeconds(2);
        options.Restart.MaxDelay = TimeSpan.FromSeconds(1);

        var result = _validator.Validate(null, options);

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:Restart:MaxDelay", failure, StringComparison.Ordinal);
        Assert.Contains("'00:00:01' was given", failure, StringComparison.Ordinal);
        Assert.Contains("'00:00:02'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RestartMaxDelayEqualToDelay_Succeeds()
    {
        var options = new WorkersOptions();
        options.Restart.Delay = TimeSpan.FromSeconds(2);
        options.Restart.MaxDelay = TimeSpan.FromSeconds(2);

        Assert.True(_validator.Validate(null, options).Succeeded);
    }

    [Fact]
    public void Validate_RestartResetAfterZero_FailsNamingKeyAndValue()
    {
        var options = new WorkersOptions();
        options.Restart.ResetAfter = TimeSpan.Zero;

        var result = _validator.Validate(null, options);

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:Restart:ResetAfter", failure, StringComparison.Ordinal);
        Assert.Contains("'00:00:00'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RestartMaxFailuresZero_FailsNamingKeyAndValue()
    {
        var options = new WorkersOptions();
        options.Restart.MaxFailures = 0;

        var result = _validator.Validate(null, options);

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:Restart:MaxFailures", failure, StringComparison.Ordinal);
        Assert.Contains("'0'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RestartFailureWindowZero_FailsNamingKeyAndValue()
    {
        var options = new WorkersOptions();
        options.Restart.FailureWindow = TimeSpan.Zero;

        var result = _validator.Validate(null, options);

        var failure = Assert.Single(FailuresOf(result));
        Assert.Contains("Workers:Restart:FailureWindow", failure, StringComparison.Ordinal);
        Assert.Contains("'00:00:00'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DefaultOptions_Succeeds()
    {
        Assert.True(_validator.Validate(null, new WorkersOptions()).Succeeded);
    }

    [Fact]
    public void Validate_NullOptions_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => _validator.Validate(null, null!));
    }

    [Fact]
    public void Validate_RestartResetAfterAboveOneDay_FailsNamingKeyAndValue()
    {
        // ResetAfter is a delay on the time provider: beyond ~49 days Task.Delay refuses it.
        var options = new WorkersOptions();
        options.Restart.ResetAfter = TimeSpan.FromDays(60);

        var failure = Assert.Single(FailuresOf(_validator.Validate(null, options)));
        Assert.Contains("Workers:Restart:ResetAfter", failure, StringComparison.Ordinal);
        Assert.Contains("'60.00:00:00'", failure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(WorkersOptions.MaxRequests))]
    [InlineData(nameof(WorkersOptions.MaxRequestsJitter))]
    public void Validate_MaxRequestsAboveLimit_FailsNamingKeyAndValue(string property)
    {
        // long.MaxValue would overflow MaxRequests + jitter.
        var options = new WorkersOptions();
        typeof(WorkersOptions).GetProperty(property)!.SetValue(options, long.MaxValue);

        var failure = Assert.Single(FailuresOf(_validator.Validate(null, options)));
        Assert.Contains($"Workers:{property}", failure, StringComparison.Ordinal);
        Assert.Contains($"'{long.MaxValue}'", failure, StringComparison.Ordinal);
    }

    private static List<string> FailuresOf(Microsoft.Extensions.Options.ValidateOptionsResult result)
    {
        Assert.True(result.Failed);
        return [.. result.Failures ?? []];
    }
}
