using System.Diagnostics;
using System.Diagnostics.Metrics;
using WorkerHosting.Lifecycle;
using WorkerHosting.Workers;

namespace WorkerHosting.Diagnostics;

/// <summary>
/// The coordinator's instruments, on the <c>WorkerHosting</c> meter (OpenTelemetry naming: durations in seconds,
/// <c>{unit}</c> annotations). What exists now (workers by state, load contexts) is observed from the pool's state when a
/// listener collects, so a listener that attaches late reads the current values; what happens (starts, exits, reloads,
/// drains, aborted requests) is recorded as it happens. Attributes are bounded: never a generation, PID or path.
/// </summary>
internal sealed class WorkersMetrics
{
    public const string MeterName = "WorkerHosting";

    private static readonly KeyValuePair<string, object?>[] _starting = [new("workerhosting.worker.state", "starting")];
    private static readonly KeyValuePair<string, object?>[] _ready = [new("workerhosting.worker.state", "ready")];
    private static readonly KeyValuePair<string, object?>[] _draining = [new("workerhosting.worker.state", "draining")];
    private static readonly KeyValuePair<string, object?>[] _active = [new("workerhosting.load_context.state", "active")];
    private static readonly KeyValuePair<string, object?>[] _unloading = [new("workerhosting.load_context.state", "unloading")];
    private static readonly KeyValuePair<string, object?>[] _leaked = [new("workerhosting.load_context.state", "leaked")];

    private readonly Histogram<double> _startDuration;
    private readonly Counter<long> _exits;
    private readonly Histogram<double> _reloadDuration;
    private readonly Histogram<double> _drainDuration;
    private readonly Counter<long> _requestsAborted;

    private WorkerSet? _set;
    private UnloadVerifier? _unloadVerifier;

    public WorkersMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);

        meter.CreateObservableUpDownCounter("workerhosting.worker.count", ObserveWorkers, unit: "{worker}",
            description: "Number of workers by state (starting, ready, draining).");
        _startDuration = meter.CreateHistogram<double>("workerhosting.worker.start.duration", "s",
            "Time from a worker's creation until it is ready, or its start failed (error.type).", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        _exits = meter.CreateCounter<long>("workerhosting.worker.exits", unit: "{worker}",
            description: "Number of workers that ended, by reason (reload, recycle, scale, stop, failure).");
        _reloadDuration = meter.CreateHistogram<double>("workerhosting.reload.duration", "s",
            "Time a rolling reload took until every slot served its new worker (or the reload stopped).", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] });
        _drainDuration = meter.CreateHistogram<double>("workerhosting.drain.duration", "s",
            "Time from asking a worker to stop until it exited.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        _requestsAborted = meter.CreateCounter<long>("workerhosting.requests.aborted", unit: "{request}",
            description: "Number of requests still running when a worker's graceful timeout ran out (cut by its server).");
        meter.CreateObservableUpDownCounter("workerhosting.load_context.count", ObserveLoadContexts, unit: "{context}",
            description: "Number of worker load contexts: active (workers alive), unloading (verification pending), leaked.");
    }

    /// <summary>The pool's state the observable instruments read (set once by the control loop).</summary>
    public void Observe(WorkerSet set, UnloadVerifier unloadVerifier)
    {
        Volatile.Write(ref _unloadVerifier, unloadVerifier);
        Volatile.Write(ref _set, set);
    }

    public void WorkerStarted(TimeSpan duration, string? errorType)
    {
        if (!_startDuration.Enabled)
        {
            return;
        }

        if (errorType is null)
        {
            _startDuration.Record(duration.TotalSeconds);
        }
        else
        {
            _startDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("error.type", errorType));
        }
    }

    public void WorkerExited(WorkerExitReason reason)
    {
        if (_exits.Enabled)
        {
            _exits.Add(1, new KeyValuePair<string, object?>("workerhosting.exit.reason", ReasonName(reason)));
        }
    }

    public void ReloadEnded(TimeSpan duration, string result)
    {
        if (_reloadDuration.Enabled)
        {
            _reloadDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("workerhosting.reload.result", result));
        }
    }

    public void WorkerDrained(TimeSpan duration)
    {
        if (_drainDuration.Enabled)
        {
            _drainDuration.Record(duration.TotalSeconds);
        }
    }

    public void RequestsAborted(int count)
    {
        if (count > 0 && _requestsAborted.Enabled)
        {
            _requestsAborted.Add(count);
        }
    }

    private static string ReasonName(WorkerExitReason reason) => reason switch
    {
        WorkerExitReason.Reload => "reload",
        WorkerExitReason.Recycle => "recycle",
        WorkerExitReason.Scale => "scale",
        WorkerExitReason.Stop => "stop",
        _ => "failure",
    };

    private IEnumerable<Measurement<int>> ObserveWorkers()
    {
        if (Volatile.Read(ref _set) is not { } set)
        {
            return [];
        }

        int starting = 0, ready = 0, draining = 0;
        foreach (var worker in set.Workers)
        {
            switch (worker.State)
            {
                case WorkerState.Starting:
                    starting++;
                    break;
                case WorkerState.Ready:
                    ready++;
                    break;
                default:
                    draining++;
                    break;
            }
        }

        return [new(starting, _starting), new(ready, _ready), new(draining, _draining)];
    }

    private IEnumerable<Measurement<int>> ObserveLoadContexts()
    {
        if (Volatile.Read(ref _set) is not { } set || Volatile.Read(ref _unloadVerifier) is not { } verifier)
        {
            return [];
        }

        return [new(set.WorkerCount, _active), new(verifier.PendingCount, _unloading), new(verifier.GetLeakedWorkers().Count, _leaked)];
    }
}
