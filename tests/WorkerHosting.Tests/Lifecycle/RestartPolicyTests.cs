using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using WorkerHosting.Diagnostics;
using WorkerHosting.Lifecycle;
using WorkerHosting.Tests.Fakes;

namespace WorkerHosting.Tests.Lifecycle;

public class RestartPolicyTests
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ExecuteAsync_FailsTwiceThenSucceeds_RunsThreeTimesAfterDoublingDelays()
    {
        var time = new ArmingTimeProvider();
        var pipeline = CreatePipeline(time, useJitter: false, delay: TimeSpan.FromMilliseconds(500));
        var operation = new FlakyOperation(failures: 2);

        var execution = pipeline.ExecuteAsync(operation.RunAsync, CancellationToken.None).AsTask();

        await operation.WaitForAttemptAsync(1);
        Assert.Equal(TimeSpan.FromMilliseconds(500), await time.NextArmedAsync());
        time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(operation.HasStarted(2));
        time.Advance(TimeSpan.FromMilliseconds(1));
        await operation.WaitForAttemptAsync(2);

        Assert.Equal(TimeSpan.FromSeconds(1), await time.NextArmedAsync());
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(operation.HasStarted(3));
        time.Advance(TimeSpan.FromMilliseconds(1));
        await operation.WaitForAttemptAsync(3);

        await execution.WaitAsync(WaitTimeout);
        Assert.Equal(3, operation.Attempts);
    }

    [Fact]
    public async Task ExecuteAsync_RepeatedFailures_DoublesTheDelayEachTime()
    {
        var time = new ArmingTimeProvider();
        var pipeline = CreatePipeline(time, useJitter: false, delay: TimeSpan.FromMilliseconds(500));
        var operation = new FlakyOperation(failures: 5);
        var delays = new List<TimeSpan>();

        var execution = pipeline.ExecuteAsync(operation.RunAsync, CancellationToken.None).AsTask();

        for (var attempt = 1; attempt <= 5; attempt++)
        {
            await operation.WaitForAttemptAsync(attempt);
            var delay = await time.NextArmedAsync();
            delays.Add(delay);
            time.Advance(delay);
        }

        await operation.WaitForAttemptAsync(6);
        await execution.WaitAsync(WaitTimeout);
        Assert.Equal([500, 1000, 2000, 4000, 8000], delays.Select(d => d.TotalMilliseconds));
    }

    [Fact]
    public async Task ExecuteAsync_DelaysGrowPastMaxDelay_CapsThemAtMaxDelay()
    {
        var time = new ArmingTimeProvider();
        var pipeline = CreatePipeline(time, useJitter: false, delay: TimeSpan.FromSeconds(1), maxDelay: TimeSpan.FromSeconds(2));
        var operation = new FlakyOperation(failures: 4);
        var delays = new List<TimeSpan>();

        var execution = pipeline.ExecuteAsync(operation.RunAsync, CancellationToken.None).AsTask();

        for (var attempt = 1; attempt <= 4; attempt++)
        {
            await operation.WaitForAttemptAsync(attempt);
            var delay = await time.NextArmedAsync();
            delays.Add(delay);
            time.Advance(delay - TimeSpan.FromMilliseconds(1));
            Assert.False(operation.HasStarted(attempt + 1));
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        await operation.WaitForAttemptAsync(5);
        await execution.WaitAsync(WaitTimeout);
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)], delays);
        Assert.Equal(5, operation.Attempts);
    }

    [Fact]
    public async Task ExecuteAsync_OperationThrowsOperationCanceledException_DoesNotRetry()
    {
        var time = new ArmingTimeProvider();
        var pipeline = CreatePipeline(time, useJitter: false, delay: TimeSpan.FromMilliseconds(500));
        var attempts = 0;
        var thrown = new OperationCanceledException("Stopping.");
        Func<CancellationToken, ValueTask> operation = _ =>
        {
            Interlocked.Increment(ref attempts);
            throw thrown;
        };

        var exception = await Assert.ThrowsAsync<OperationCanceledException>(
            () => pipeline.ExecuteAsync(operation, CancellationToken.None).AsTask().WaitAsync(WaitTimeout));

        Assert.Same(thrown, exception);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, Volatile.Read(ref attempts));
        Assert.Equal(0, time.ArmCount);
    }

    [Fact]
    public async Task ExecuteAsync_OperationThrowsOtherException_DoesNotRetry()
    {
        var time = new ArmingTimeProvider();
        var pipeline = CreatePipeline(time, useJitter: false, delay: TimeSpan.FromMilliseconds(500));
        var attempts = 0;
        var thrown = new InvalidOperationException("Not a worker failure.");
        Func<CancellationToken, ValueTask> operation = _ =>
        {
            Interlocked.Increment(ref attempts);
            throw thrown;
        };

        var exception = await Assert.ThrowsAsync<InvalidOperationException>(
            () => pipeline.ExecuteAsync(operation, CancellationToken.None).AsTask().WaitAsync(WaitTimeout));

        Assert.Same(thrown, exception);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, Volatile.Read(ref attempts));
        Assert.Equal(0, time.ArmCount);
    }

    [Fact]
    public async Task ExecuteAsync_TokenCancelledDuringDelay_ThrowsOperationCanceledWithoutFurtherAttempt()
    {
        var time = new ArmingTimeProvider();
        var pipeline = CreatePipeline(time, useJitter: false, delay: TimeSpan.FromMilliseconds(500));
        var operation = new FlakyOperation(failures: int.MaxValue);
        using var cancellation = new CancellationTokenSource();

        var execution = pipeline.ExecuteAsync(operation.RunAsync, cancellation.Token).AsTask();
        await operation.WaitForAttemptAsync(1);
        Assert.Equal(TimeSpan.FromMilliseconds(500), await time.NextArmedAsync());
        time.Advance(TimeSpan.FromMilliseconds(200));
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => execution.WaitAsync(WaitTimeout));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, operation.Attempts);
        Assert.False(operation.HasStarted(2));
    }

    [Fact]
    public async Task ExecuteAsync_WithJitter_FirstDelayVariesAndSecondAttemptComesWithinTwiceDelay()
    {
        // Polly 8's exponential jitter (decorrelated jitter V2) makes the first delay
        // 2^r * tanh(sqrt(4r)) / 1.4 * Delay for r in [0, 1): anywhere from 0 to about 1.38 * Delay.
        var delay = TimeSpan.FromSeconds(10);
        var firstDelays = new List<TimeSpan>();

        for (var run = 0; run < 10; run++)
        {
            var time = new ArmingTimeProvider();
            var pipeline = CreatePipeline(time, useJitter: true, delay: delay, maxDelay: TimeSpan.FromMinutes(1));
            var operation = new FlakyOperation(failures: 1);

            var execution = pipeline.ExecuteAsync(operation.RunAsync, CancellationToken.None).AsTask();

            await operation.WaitForAttemptAsync(1);
            var firstDelay = await time.NextArmedAsync();
            Assert.InRange(firstDelay, TimeSpan.FromTicks(1), 2 * delay);
            Assert.False(operation.HasStarted(2));
            time.Advance(2 * delay);
            await operation.WaitForAttemptAsync(2);
            await execution.WaitAsync(WaitTimeout);
            Assert.Equal(2, operation.Attempts);
            firstDelays.Add(firstDelay);
        }

        // Without jitter every first delay would be exactly Delay; with it, ten runs all landing on one value is
        // (all but) impossible.
        Assert.True(firstDelays.Distinct().Count() > 1, $"First delays did not vary: {string.Join(", ", firstDelays)}.");
        Assert.Contains(firstDelays, d => d != delay);
    }

    [Fact]
    public async Task ExecuteAsync_WorkerFailedAndRetried_LogsWorkerRestartingWarningPerRetry()
    {
        var time = new ArmingTimeProvider();
        var logger = new RecordingLogger();
        var pipeline = RestartPolicy.Create(
            new WorkerRestartOptions { UseJitter = false, Delay = TimeSpan.FromMilliseconds(500) }, time, logger);
        var operation = new FlakyOperation(failures: 2, slot: 3, firstGeneration: 11);

        var execution = pipeline.ExecuteAsync(operation.RunAsync, CancellationToken.None).AsTask();
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            await operation.WaitForAttemptAsync(attempt);
            time.Advance(await time.NextArmedAsync());
        }

        await execution.WaitAsync(WaitTimeout);

        Assert.Equal(2, logger.Entries.Count);
        Assert.All(logger.Entries, entry =>
        {
            Assert.Equal(WorkersEventIds.WorkerRestarting, entry.EventId.Id);
            Assert.Equal(300, entry.EventId.Id);
            Assert.Equal("WorkerRestarting", entry.EventId.Name);
            Assert.Equal(LogLevel.Warning, entry.Level);
            Assert.IsType<WorkerFailedException>(entry.Exception);
        });
        Assert.Contains("Worker 3 (generation 11) failed", logger.Entries[0].Message, StringComparison.Ordinal);
        Assert.Contains("in 00:00:00.5000000 (attempt 1)", logger.Entries[0].Message, StringComparison.Ordinal);
        Assert.Contains("Worker 3 (generation 12) failed", logger.Entries[1].Message, StringComparison.Ordinal);
        Assert.Contains("in 00:00:01 (attempt 2)", logger.Entries[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExecuteAsync_SucceedsFirstTime_RunsOnceWithoutDelayOrLog()
    {
        var time = new ArmingTimeProvider();
        var logger = new RecordingLogger();
        var pipeline = RestartPolicy.Create(new WorkerRestartOptions(), time, logger);
        var operation = new FlakyOperation(failures: 0);

        await pipeline.ExecuteAsync(operation.RunAsync, CancellationToken.None).AsTask().WaitAsync(WaitTimeout);

        Assert.Equal(1, operation.Attempts);
        Assert.Equal(0, time.ArmCount);
        Assert.Empty(logger.Entries);
    }

    [Fact]
    public void Create_NullOptions_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => RestartPolicy.Create(null!, new ArmingTimeProvider(), NullLogger.Instance));
    }

    private static ResiliencePipeline CreatePipeline(TimeProvider time, bool useJitter, TimeSpan delay, TimeSpan? maxDelay = null)
        => RestartPolicy.Create(
            new WorkerRestartOptions { UseJitter = useJitter, Delay = delay, MaxDelay = maxDelay ?? TimeSpan.FromSeconds(30) },
            time,
            NullLogger.Instance);

    /// <summary>
    /// Fails its first <c>failures</c> attempts with <see cref="WorkerFailedException"/> (each a new generation of one
    /// slot), then succeeds; signals the start of every attempt.
    /// </summary>
    private sealed class FlakyOperation(int failures, int slot = 2, int firstGeneration = 1)
    {
        private const int MaxTrackedAttempts = 16;

        private readonly TaskCompletionSource[] _started = [.. Enumerable.Range(0, MaxTrackedAttempts)
            .Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];

        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public ValueTask RunAsync(CancellationToken cancellationToken)
        {
            var attempt = Interlocked.Increment(ref _attempts);
            if (attempt <= MaxTrackedAttempts)
            {
                _started[attempt - 1].TrySetResult();
            }

            if (attempt <= failures)
            {
                var generation = firstGeneration + attempt - 1;
                throw new WorkerFailedException(slot, generation, started: false, $"Worker {slot} (generation {generation}) failed.", null);
            }

            return ValueTask.CompletedTask;
        }

        public bool HasStarted(int attempt) => _started[attempt - 1].Task.IsCompleted;

        public Task WaitForAttemptAsync(int attempt) => _started[attempt - 1].Task.WaitAsync(WaitTimeout);
    }
}
