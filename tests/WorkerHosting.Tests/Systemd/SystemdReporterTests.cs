using WorkerHosting.Systemd;

namespace WorkerHosting.Tests.Systemd;

public class SystemdReporterTests
{
    [Theory]
    [InlineData("30000000", null, 30_000)]
    [InlineData("500000", "4242", 500)]
    public void WatchdogInterval_ForThisProcess_IsWatchdogUsec(string usec, string? pid, int expectedMilliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMilliseconds), SystemdReporter.WatchdogInterval(usec, pid, processId: 4242));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("0", null)]
    [InlineData("-5", null)]
    [InlineData("soon", null)]
    [InlineData("500000", "1")]
    [InlineData("500000", "not-a-pid")]
    public void WatchdogInterval_UnsetInvalidOrForAnotherProcess_IsNull(string? usec, string? pid)
    {
        Assert.Null(SystemdReporter.WatchdogInterval(usec, pid, processId: 4242));
    }

    [Fact]
    public void MonotonicMicroseconds_AdvancesWithTheStopwatch()
    {
        var first = SystemdReporter.MonotonicMicroseconds();
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        while (stopwatch.ElapsedMilliseconds < 2)
        {
            Thread.SpinWait(100);
        }

        var second = SystemdReporter.MonotonicMicroseconds();
        Assert.InRange(second - first, 2_000, 10_000_000);
    }
}
