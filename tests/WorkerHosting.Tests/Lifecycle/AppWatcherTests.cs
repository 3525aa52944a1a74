using WorkerHosting.Lifecycle;
using WorkerHosting.Tests.Fakes;

namespace WorkerHosting.Tests.Lifecycle;

public sealed class AppWatcherTests : IDisposable
{
    /// <summary>
    /// How long a negative test lets the FileSystemWatcher, which reports on its own thread, report a change it would
    /// react to before asserting that nothing happened. There is nothing to wait for when nothing happens, so this is a
    /// bounded real wait; it only has to be long enough for a wrong reaction to show up, not for a right one.
    /// </summary>
    private static readonly TimeSpan NegativeAssertionDelay = TimeSpan.FromMilliseconds(300);

    /// <summary>How long to wait for the watcher to see a change that it must see.</summary>
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _directory = TempDirectory.Create("appwatcher");
    private readonly ArmingTimeProvider _time = new();
    private readonly TaskCompletionSource _calledBack = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _callbacks;

    private int Callbacks => Volatile.Read(ref _callbacks);

    public void Dispose()
    {
        _directory.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task DllWritten_AfterQuietPeriod_CallsBackOnce()
    {
        using var watcher = CreateWatcher();
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, Callbacks);

        await File.WriteAllBytesAsync(Path.Combine(_directory.Path, "App.dll"), [1, 2, 3]);
        var arm = await _time.NextArmAsync(EventTimeout);
        Assert.Equal(AppWatcher.QuietPeriod, arm.DueTime);
        Assert.Equal(Timeout.InfiniteTimeSpan, arm.Period); // once, not every quiet period

        // Armed at the earliest now; any later event only pushes the deadline further.
        _time.Advance(AppWatcher.QuietPeriod - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, Callbacks);

        await AdvanceUntilCalledBackAsync();
        Assert.Equal(1, Callbacks);
    }

    [Fact]
    public async Task DepsJsonWritten_AfterQuietPeriod_CallsBackOnce()
    {
        using var watcher = CreateWatcher();

        await File.WriteAllTextAsync(Path.Combine(_directory.Path, "App.deps.json"), "{}");
        await _time.NextArmedAsync(EventTimeout);

        await AdvanceUntilCalledBackAsync();
        Assert.Equal(1, Callbacks);
    }

    [Fact]
    public async Task SeveralDllsWrittenInARow_AfterQuietPeriod_CallsBackOnce()
    {
        const int Files = 5;
        using var watcher = CreateWatcher();

        for (var i = 0; i < Files; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(_directory.Path, $"Part{i}.dll"), [1, 2, 3]);
        }

        // Each new file is at least one event, and each event re-arms the one timer.
        for (var i = 0; i < Files; i++)
        {
            await _time.NextArmedAsync(EventTimeout);
        }

        _time.Advance(AppWatcher.QuietPeriod - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, Callbacks);

        await AdvanceUntilCalledBackAsync();
        Assert.Equal(1, Callbacks);
        Assert.True(_time.ArmCount >= Files, $"Expected at least {Files} events, saw {_time.ArmCount}.");
    }

    [Fact]
    public async Task DllWrittenDuringQuietPeriod_PushesCallbackToOneQuietPeriodAfterIt()
    {
        using var watcher = CreateWatcher();
        await File.WriteAllBytesAsync(Path.Combine(_directory.Path, "App.dll"), [1, 2, 3]);
        await _time.NextArmAsync(EventTimeout);

        _time.Advance(TimeSpan.FromMilliseconds(600));
        var secondWriteAt = _time.GetUtcNow();
        await File.WriteAllBytesAsync(Path.Combine(_directory.Path, "App.Views.dll"), [4, 5, 6]);

        // Wait for an event seen after the clock moved (the second file's, or a late one of the first): it re-arms the
        // timer to at least 600 ms + 1 s after the first write.
        while ((await _time.NextArmAsync(EventTimeout)).ArmedAt < secondWriteAt)
        {
        }

        _time.Advance(TimeSpan.FromMilliseconds(600));
        Assert.Equal(0, Callbacks); // 1.2 s after the first write, but only 0.6 s after the second

        await AdvanceUntilCalledBackAsync();
        Assert.Equal(1, Callbacks);
    }

    [Fact]
    public async Task TxtWritten_NeverCallsBack()
    {
        using var watcher = CreateWatcher();

        await File.WriteAllTextAsync(Path.Combine(_directory.Path, "notes.txt"), "not part of the app");
        await Task.Delay(NegativeAssertionDelay);
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(0, Callbacks);
        Assert.Equal(0, _time.ArmCount);

        // The watcher was listening all along: a .dll does call back.
        await File.WriteAllBytesAsync(Path.Combine(_directory.Path, "App.dll"), [1, 2, 3]);
        await AdvanceUntilCalledBackAsync();
        Assert.Equal(1, Callbacks);
    }

    [Fact]
    public async Task Disposed_DllWritten_NeverCallsBack()
    {
        var watcher = CreateWatcher();
        watcher.Dispose();

        await File.WriteAllBytesAsync(Path.Combine(_directory.Path, "App.dll"), [1, 2, 3]);
        await Task.Delay(NegativeAssertionDelay);
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(0, Callbacks);
    }

    private AppWatcher CreateWatcher() => new(_directory.Path, _time, () =>
    {
        Interlocked.Increment(ref _callbacks);
        _calledBack.TrySetResult();
    });

    /// <summary>
    /// Advances the fake clock a quiet period, then waits for a signal: the callback ran, or the watcher armed its
    /// timer again (an event the FileSystemWatcher delivers on its own thread, still in flight when the clock moved),
    /// in which case the clock moves on again. A loop because how many events the OS raises for one write is not
    /// known; each turn waits on a signal, none polls. Fails after <see cref="EventTimeout"/> without either.
    /// </summary>
    private async Task AdvanceUntilCalledBackAsync()
    {
        while (true)
        {
            var armed = _time.NextArmAsync(EventTimeout);
            _time.Advance(AppWatcher.QuietPeriod);
            await Task.WhenAny(_calledBack.Task, armed);
            if (_calledBack.Task.IsCompleted)
            {
                return;
            }

            try
            {
                await armed;
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"The callback did not run within {EventTimeout}, and the watcher armed no timer.", e);
            }
        }
    }
}
