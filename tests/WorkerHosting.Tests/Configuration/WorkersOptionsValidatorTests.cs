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
    public void Validate_NullOptions_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => _validator.Validate(null, null!));
    }

    private static List<string> FailuresOf(Microsoft.Extensions.Options.ValidateOptionsResult result)
    {
        Assert.True(result.Failed);
        return [.. result.Failures ?? []];
    }
}
