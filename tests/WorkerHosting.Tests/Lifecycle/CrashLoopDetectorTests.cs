using Microsoft.Extensions.Time.Testing;
using WorkerHosting.Lifecycle;

namespace WorkerHosting.Tests.Lifecycle;

public class CrashLoopDetectorTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(60);

    [Fact]
    public void RecordFailure_UpToMaxFailuresWithinWindow_ReturnsFalse()
    {
        var time = new FakeTimeProvider();
        var detector = new CrashLoopDetector(maxFailures: 3, Window, time);

        for (var failure = 1; failure <= 3; failure++)
        {
            Assert.False(detector.RecordFailure(), $"Failure {failure} of 3 should be tolerated.");
            time.Advance(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public void RecordFailure_OneMoreThanMaxFailuresWithinWindow_ReturnsTrue()
    {
        var time = new FakeTimeProvider();
        var detector = new CrashLoopDetector(maxFailures: 3, Window, time);

        Assert.False(detector.RecordFailure());
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(detector.RecordFailure());
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(detector.RecordFailure());
        time.Advance(TimeSpan.FromSeconds(10));

        Assert.True(detector.RecordFailure());
    }

    [Fact]
    public void RecordFailure_AllAtOnce_TripsOnTheFailureAfterMax()
    {
        var time = new FakeTimeProvider();
        var detector = new CrashLoopDetector(maxFailures: 3, Window, time);

        bool[] results = [detector.RecordFailure(), detector.RecordFailure(), detector.RecordFailure(), detector.RecordFailure()];

        Assert.Equal([false, false, false, true], results);
    }

    [Fact]
    public void RecordFailure_FailuresSpreadBeyondWindow_NeverTrips()
    {
        var time = new FakeTimeProvider();
        var detector = new CrashLoopDetector(maxFailures: 3, Window, time);

        for (var failure = 1; failure <= 20; failure++)
        {
            Assert.False(detector.RecordFailure(), $"Failure {failure} tripped the detector although the previous one was 61 s ago.");
            time.Advance(TimeSpan.FromSeconds(61));
        }
    }

    [Fact]
    public void RecordFailure_OldestFailureSlidesOutOfWindow_DoesNotTrip()
    {
        var time = new FakeTimeProvider();
        var detector = new CrashLoopDetector(maxFailures: 3, Window, time);

        Assert.False(detector.RecordFailure()); // t = 0
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.False(detector.RecordFailure()); // t = 20
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.False(detector.RecordFailure()); // t = 40
        time.Advance(TimeSpan.FromSeconds(21));

        // t = 61: the failure at 0 has left the window, so this is the third within it, not the fourth.
        Assert.False(detector.RecordFailure());

        // t = 61 again: the failures at 20, 40, 61 and now are four within 60 s.
        Assert.True(detector.RecordFailure());
    }

    [Fact]
    public void RecordFailure_AfterCrashLoopWhenWindowPasses_StopsReportingIt()
    {
        var time = new FakeTimeProvider();
        var detector = new CrashLoopDetector(maxFailures: 1, Window, time);
        Assert.False(detector.RecordFailure());
        Assert.True(detector.RecordFailure());

        time.Advance(Window + TimeSpan.FromSeconds(1));

        Assert.False(detector.RecordFailure());
    }

    [Fact]
    public void RecordFailure_PreviousFailureExactlyWindowAgo_StillCounts()
    {
        // Only failures older than the window (elapsed > window) leave it; one exactly a window ago is still in it.
        var time = new FakeTimeProvider();
        var detector = new CrashLoopDetector(maxFailures: 1, Window, time);
        Assert.False(detector.RecordFailure());

        time.Advance(Window);

        Assert.True(detector.RecordFailure());
    }

    [Fact]
    public void RecordFailure_PreviousFailureJustOverWindowAgo_NoLongerCounts()
    {
        var time = new FakeTimeProvider();
        var detector = new CrashLoopDetector(maxFailures: 1, Window, time);
        Assert.False(detector.RecordFailure());

        time.Advance(Window + TimeSpan.FromTicks(1));

        Assert.False(detector.RecordFailure());
    }
}
