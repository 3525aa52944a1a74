using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using WorkerHosting.Configuration;

namespace WorkerHosting.Tests.Configuration;

public class WorkersConfigurationKeysTests
{
    [Fact]
    public void FindUnknown_EveryKeyInAnyCase_ReportsNothing()
    {
        var section = Section(new()
        {
            ["Workers:Count"] = "2",
            ["workers:gracefultimeout"] = "00:00:10",
            ["Workers:StartupTimeout"] = "00:00:10",
            ["Workers:MaxRequests"] = "10",
            ["Workers:MaxRequestsJitter"] = "1",
            ["Workers:Watch"] = "true",
            ["Workers:MaxLeakedWorkers"] = "1",
            ["Workers:ReleaseLeftovers"] = "false",
            ["Workers:Restart:Delay"] = "00:00:01",
            ["Workers:RESTART:MaxDelay"] = "00:00:02",
            ["Workers:Restart:UseJitter"] = "false",
            ["Workers:Restart:ResetAfter"] = "00:00:03",
            ["Workers:Restart:MaxFailures"] = "3",
            ["Workers:Restart:FailureWindow"] = "00:01:00",
        });

        Assert.Empty(WorkersConfigurationKeys.FindUnknown(section));
    }

    [Fact]
    public void FindUnknown_MisspelledRootKey_NamesFullPathValueAndTheSectionsKeys()
    {
        var section = Section(new() { ["Workers:GracefulTimout"] = "00:01:00" });

        var error = Assert.Single(WorkersConfigurationKeys.FindUnknown(section));

        Assert.Equal(
            "'Workers:GracefulTimout' (value '00:01:00') is not a WorkerHosting setting, so it would be ignored. Check its spelling (environment variables separate levels with '__'); the keys of 'Workers' are Count, GracefulTimeout, ShutdownDelay, StartupTimeout, MaxRequests, MaxRequestsJitter, Watch, MaxLeakedWorkers, UpgradeOnLeakLimit, PidFile, ReleaseLeftovers, Restart.",
            error);
    }

    [Fact]
    public void FindUnknown_MisspelledRestartKey_NamesNestedPathAndRestartKeys()
    {
        var section = Section(new() { ["Workers:Restart:MaxDelya"] = "00:00:10" });

        var error = Assert.Single(WorkersConfigurationKeys.FindUnknown(section));

        Assert.StartsWith("'Workers:Restart:MaxDelya' (value '00:00:10') is not a WorkerHosting setting", error, StringComparison.Ordinal);
        Assert.EndsWith("the keys of 'Workers:Restart' are Delay, MaxDelay, UseJitter, ResetAfter, MaxFailures, FailureWindow.", error, StringComparison.Ordinal);
    }

    [Fact]
    public void FindUnknown_UnknownSubsection_NamesItWithoutAValue()
    {
        var section = Section(new() { ["Workers:Restrat:Delay"] = "00:00:01" });

        var error = Assert.Single(WorkersConfigurationKeys.FindUnknown(section));

        Assert.StartsWith("'Workers:Restrat' is not a WorkerHosting setting", error, StringComparison.Ordinal);
    }

    [Fact]
    public void FindUnknown_SeveralUnknownKeys_ReportsEach()
    {
        var section = Section(new()
        {
            ["Workers:Count"] = "2",
            ["Workers:Cuont"] = "3",
            ["Workers:Restart:MaxDelya"] = "00:00:10",
        });

        var errors = WorkersConfigurationKeys.FindUnknown(section);

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("'Workers:Cuont'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("'Workers:Restart:MaxDelya'", StringComparison.Ordinal));
    }

    [Fact]
    public void ThrowIfUnknown_UnknownKey_ThrowsOptionsValidationExceptionForWorkersOptions()
    {
        var section = Section(new() { ["Workers:GracefulTimout"] = "00:01:00" });

        var exception = Assert.Throws<OptionsValidationException>(() => WorkersConfigurationKeys.ThrowIfUnknown(section, Options.DefaultName));

        Assert.Equal(typeof(WorkersOptions), exception.OptionsType);
        Assert.Contains("'Workers:GracefulTimout'", Assert.Single(exception.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfUnknown_NoWorkersSection_DoesNotThrow()
    {
        WorkersConfigurationKeys.ThrowIfUnknown(Section(new() { ["Other:Key"] = "1" }), Options.DefaultName);
    }

    private static IConfigurationSection Section(Dictionary<string, string?> values)
        => new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(WorkersOptions.SectionName);
}
