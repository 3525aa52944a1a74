using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace WorkerHosting.Tests.Fakes;

/// <summary>
/// A timer was armed to fire <paramref name="DueTime"/> after a moment no earlier than <paramref name="ArmedAt"/>, then
/// every <paramref name="Period"/> (infinite: once).
/// </summary>
internal readonly record struct TimerArm(TimeSpan DueTime, TimeSpan Period, DateTimeOffset ArmedAt);

/// <summary>
/// A <see cref="FakeTimeProvider"/> that reports every time one of its timers is armed (created with, or changed to,
/// a finite due time), so a test can wait until code running on another thread has scheduled its delay before it
/// advances the clock. Task.Delay(delay, timeProvider) and ITimer.Change both go through here.
/// </summary>
internal sealed class ArmingTimeProvider : FakeTimeProvider
{
    private static readonly TimeSpan DefaultWaitTimeout = TimeSpan.FromSeconds(30);

    private readonly Channel<TimerArm> _armed = Channel.CreateUnbounded<TimerArm>();
    private int _armCount;

    /// <summary>Gets how many times a timer has been armed so far.</summary>
    public int ArmCount => Volatile.Read(ref _armCount);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var armedAt = GetUtcNow();
        var timer = new ArmingTimer(base.CreateTimer(callback, state, dueTime, period), this);

        // Reported once the timer exists, so whoever waits for it can advance the clock past it.
        OnArmed(dueTime, period, armedAt);
        return timer;
    }

    /// <summary>Waits for the next time a timer is armed (in order) and returns its due time.</summary>
    public async Task<TimeSpan> NextArmedAsync(TimeSpan? timeout = null) => (await NextArmAsync(timeout)).DueTime;

    /// <summary>Waits for the next time a timer is armed (in order).</summary>
    public Task<TimerArm> NextArmAsync(TimeSpan? timeout = null)
        => _armed.Reader.ReadAsync().AsTask().WaitAsync(timeout ?? DefaultWaitTimeout);

    /// <summary>Waits until a timer is armed with <paramref name="dueTime"/>, skipping the others armed before it.</summary>
    public async Task<TimerArm> WaitForArmAsync(TimeSpan dueTime, TimeSpan? timeout = null)
    {
        using var cancellation = new CancellationTokenSource(timeout ?? DefaultWaitTimeout);
        while (true)
        {
            var arm = await _armed.Reader.ReadAsync(cancellation.Token);
            if (arm.DueTime == dueTime)
            {
                return arm;
            }
        }
    }

    private void OnArmed(TimeSpan dueTime, TimeSpan period, DateTimeOffset armedAt)
    {
        if (dueTime == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        Interlocked.Increment(ref _armCount);
        _armed.Writer.TryWrite(new TimerArm(dueTime, period, armedAt));
    }

    private sealed class ArmingTimer(ITimer inner, ArmingTimeProvider owner) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            // Read before the change, so the timer's deadline is at least ArmedAt + DueTime.
            var armedAt = owner.GetUtcNow();
            var changed = inner.Change(dueTime, period);
            owner.OnArmed(dueTime, period, armedAt);
            return changed;
        }

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
