using System.Globalization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using WorkerHosting.Coordinator;
using WorkerHosting.Hosting;

namespace WorkerHosting.Testing;

/// <summary>
/// Starts an app that calls <c>UseWorkers</c> as production runs it: real Kestrel on <c>127.0.0.1</c> and a free port, the
/// coordinator, and real workers, each running the app in its own load context. Use it as <see cref="WebApplicationFactory{TEntryPoint}"/>
/// (<c>IClassFixture</c>, <see cref="WebApplicationFactory{TEntryPoint}.CreateClient()"/>, <see cref="WithWebHostBuilder"/>,
/// <see cref="WebApplicationFactory{TEntryPoint}.Services"/>); disposing it stops the app as a SIGTERM would, draining the workers.
/// </summary>
/// <typeparam name="TEntryPoint">A type in the app's entry point assembly, typically <c>Program</c>.</typeparam>
/// <remarks>
/// <para>
/// Clients from <see cref="WebApplicationFactory{TEntryPoint}.CreateClient()"/> send every request on a new connection
/// (<c>Connection: close</c>), so that requests spread over the workers as independent clients' do; set
/// <see cref="KeepAliveClients"/> for clients that keep their connection, as browsers and proxies do.
/// </para>
/// <para>
/// A test's overrides reach every worker: host settings (<c>UseSetting</c>, <c>UseEnvironment</c>), configuration sources
/// (<c>ConfigureAppConfiguration</c>) and registrations (<c>ConfigureTestServices</c>, <c>ConfigureServices</c>). A worker runs the
/// app's code in its own load context, so a registration is carried over, not shared: a type (a fake class of the test
/// project) is registered as the worker's version of it; a lambda runs as the worker's copy of it, with copies of the values
/// it captured; an object of the app's or the test's types is copied field by field. Each worker has its own copy of a
/// fake and of its static fields: assert on what the app answers, not on the test's copy. An object the test keeps a
/// reference to (a mock it verifies later, the factory itself) cannot reach a worker; the worker fails to start with an
/// error that names the registration. Services the test resolves from <see cref="WebApplicationFactory{TEntryPoint}.Services"/>
/// are the coordinator's, which serves no request.
/// </para>
/// </remarks>
public class WorkersApplicationFactory<TEntryPoint> : WebApplicationFactory<TEntryPoint>
    where TEntryPoint : class
{
    private readonly PoolEvents _events = new();
    private readonly List<WorkersApplicationFactory<TEntryPoint>> _derived = [];
    private int? _workerCount;
    private bool _started;

    /// <summary>Creates a factory that runs the app with workers on real Kestrel.</summary>
    public WorkersApplicationFactory()
    {
        UseKestrel();
    }

    /// <summary>
    /// Gets or sets the number of workers, in place of the app's own (its <c>UseWorkers</c> call and its <c>Workers:Count</c>
    /// setting); <see langword="null"/> (the default) keeps the app's. Set it before the first client is created.
    /// </summary>
    public int? WorkerCount
    {
        get => _workerCount;
        set
        {
            if (value is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "A worker count is at least 1.");
            }

            ThrowIfStarted();
            _workerCount = value;
        }
    }

    /// <summary>
    /// Gets or sets whether clients created by the factory keep their connections alive. <see langword="false"/> (the default)
    /// sends each request on a new connection, which any worker may accept.
    /// </summary>
    public bool KeepAliveClients { get; set; }

    /// <summary>Gets or sets how long a wait of this factory waits before it fails; 30 seconds by default.</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets the coordinator's pool: reload, scale, and the workers as they are now. Starts the app if needed.</summary>
    public IWorkerPool Pool => Services.GetRequiredService<IWorkerPool>();

    private WorkerPool CoordinatorPool => Services.GetRequiredService<WorkerPool>();

    /// <summary>Gets the address the app listens on (<c>http://127.0.0.1:port/</c>). Starts the app if needed.</summary>
    public Uri ServerAddress
    {
        get
        {
            StartServer();
            return ClientOptions.BaseAddress;
        }
    }

    /// <summary>
    /// Creates a factory whose app is further configured by <paramref name="configuration"/>, which reaches every worker
    /// too, and runs with workers as this one does.
    /// </summary>
    /// <param name="configuration">Configures the app's web host builder, after this factory's own configuration.</param>
    /// <returns>A new factory, disposed with this one.</returns>
    public new WorkersApplicationFactory<TEntryPoint> WithWebHostBuilder(Action<IWebHostBuilder> configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var derived = new DerivedFactory(this, configuration)
        {
            KeepAliveClients = KeepAliveClients,
            WaitTimeout = WaitTimeout,
        };
        derived._workerCount = _workerCount;
        lock (_derived)
        {
            _derived.Add(derived);
        }

        return derived;
    }

    /// <summary>
    /// Waits until <paramref name="count"/> workers (by default, as many as the pool has slots) are ready, and returns them.
    /// Starts the app if needed.
    /// </summary>
    /// <param name="count">The number of ready workers to wait for; the pool's size by default.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The ready workers.</returns>
    /// <exception cref="TimeoutException">They were not ready within <see cref="WaitTimeout"/>.</exception>
    public Task<IReadOnlyList<WorkerSnapshot>> WaitForReadyWorkersAsync(int? count = null, CancellationToken cancellationToken = default)
    {
        var pool = CoordinatorPool;
        return WaitAsync(
            () =>
            {
                var ready = pool.GetWorkers().Where(w => w.State == WorkerState.Ready).ToArray();
                return ready.Select(w => w.Slot).Distinct().Count() >= (count ?? pool.Count) ? (IReadOnlyList<WorkerSnapshot>)ready : null;
            },
            count is null ? "every slot's worker to be ready" : $"{count} workers to be ready",
            cancellationToken);
    }

    /// <summary>
    /// Waits until the worker in <paramref name="slot"/> is ready with <paramref name="generation"/> or a later one (after a
    /// reload, a recycle or a restart), and returns it. Starts the app if needed.
    /// </summary>
    /// <param name="slot">The worker's slot.</param>
    /// <param name="generation">The generation to wait for; each replacement in a slot starts the next.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The ready worker.</returns>
    /// <exception cref="TimeoutException">It was not ready within <see cref="WaitTimeout"/>.</exception>
    public Task<WorkerSnapshot> WaitForGenerationAsync(int slot, int generation, CancellationToken cancellationToken = default)
    {
        var pool = Pool;
        return WaitAsync(
            () => pool.GetWorkers().FirstOrDefault(w => w.Slot == slot && w.Generation >= generation && w.State == WorkerState.Ready),
            $"slot {slot} to serve generation {generation}",
            cancellationToken);
    }

    /// <summary>
    /// Ends the ready worker in <paramref name="slot"/> as a crash would, from the coordinator's point of view (the worker stops
    /// without having been asked, draining its requests), and waits until it has exited. The pool then restarts the slot, as
    /// its restart policy says; <see cref="WaitForGenerationAsync"/> waits for the replacement.
    /// </summary>
    /// <param name="slot">The worker's slot.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>How the worker exited: its generation, with <see cref="WorkerExitReason.Failure"/>.</returns>
    /// <exception cref="InvalidOperationException">The slot has no ready worker.</exception>
    public async Task<WorkerExitedEvent> CrashWorkerAsync(int slot, CancellationToken cancellationToken = default)
    {
        var pool = CoordinatorPool;
        var generation = pool.EndWorkerUnasked(slot)
            ?? throw new InvalidOperationException($"Slot {slot} has no ready worker to end. Workers now: {Describe(pool.GetWorkers())}.");
        return await WaitAsync(() => _events.FindExit(slot, generation), $"worker {slot} (generation {generation}) to exit", cancellationToken)
            .ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        base.ConfigureWebHost(builder);

        // First of the test's callbacks: what is registered before them is the app's (a classic IHostBuilder app registers
        // its services and configuration from callbacks too).
        builder.ConfigureAppConfiguration((_, configuration) => WorkersSetup.MarkAppConfiguration(configuration));
        builder.ConfigureServices(WorkersSetup.MarkAppServices);
        UseWorkersSettings(builder);
    }

    /// <inheritdoc/>
    protected override IHost CreateHost(IHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        _started = true;

        // Last of the host's configuration: what the test's own configuration added to the app's is captured here, to be
        // applied again in every worker.
        builder.ConfigureAppConfiguration((context, configuration) => WorkersSetup.CaptureTestConfiguration(context.Properties, configuration));
        builder.ConfigureServices((context, services) =>
        {
            WorkersSetup.CaptureTestServices(context.Properties, services);
            services.AddSingleton<IWorkerLifecycleObserver>(_events);
        });
        return base.CreateHost(builder);
    }

    /// <inheritdoc/>
    protected override void ConfigureClient(HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        base.ConfigureClient(client);
        if (!KeepAliveClients)
        {
            client.DefaultRequestHeaders.ConnectionClose = true;
        }
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        WorkersApplicationFactory<TEntryPoint>[] derived;
        lock (_derived)
        {
            derived = [.. _derived];
            _derived.Clear();
        }

        foreach (var factory in derived)
        {
            await factory.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    private async Task<T> WaitAsync<T>(Func<T?> probe, string what, CancellationToken cancellationToken)
        where T : class
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(WaitTimeout);
        while (true)
        {
            // Read the signal before probing: an event between the probe and the wait still wakes the wait.
            var changed = _events.Changed;
            if (probe() is { } result)
            {
                return result;
            }

            try
            {
                await changed.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                var failure = _events.LastFailure;
                throw new TimeoutException(
                    $"Waited {WaitTimeout} for {what}. Workers now: {Describe(Pool.GetWorkers())}." +
                    (failure is null ? string.Empty : $" The last worker failure: {failure.Message}"),
                    failure);
            }
        }
    }

    /// <summary>
    /// The address and the worker count, as host settings: they reach the app's entry point as arguments, in the coordinator
    /// and in every worker alike. Applied after the test's own configuration, which they override.
    /// </summary>
    private void UseWorkersSettings(IWebHostBuilder builder)
    {
        builder.UseSetting(WebHostDefaults.ServerUrlsKey, "http://127.0.0.1:0");
        if (_workerCount is { } count)
        {
            builder.UseSetting("Workers:Count", count.ToString(CultureInfo.InvariantCulture));
        }
    }

    private void ThrowIfStarted()
    {
        if (_started)
        {
            throw new InvalidOperationException("The app has started: set the factory's options before the first client, Services or Pool.");
        }
    }

    private static string Describe(IReadOnlyList<WorkerSnapshot> workers)
        => workers.Count == 0
            ? "none"
            : string.Join(", ", workers.Select(w => string.Create(CultureInfo.InvariantCulture, $"slot {w.Slot} generation {w.Generation} {w.State}")));

    /// <summary>The pool's events, which wake the factory's waits; and the workers that exited.</summary>
    private sealed class PoolEvents : IWorkerLifecycleObserver
    {
        private readonly List<WorkerExitedEvent> _exits = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Changed => Volatile.Read(ref _changed).Task;

        public Exception? LastFailure
        {
            get
            {
                lock (_exits)
                {
                    return _exits.LastOrDefault(e => e.Exception is not null)?.Exception;
                }
            }
        }

        public WorkerExitedEvent? FindExit(int slot, int generation)
        {
            lock (_exits)
            {
                return _exits.FirstOrDefault(e => e.Slot == slot && e.Generation == generation);
            }
        }

        public Task OnPoolReadyAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken) => Signal();

        public Task OnWorkerReadyAsync(WorkerEvent workerEvent, CancellationToken cancellationToken) => Signal();

        public Task OnWorkerExitedAsync(WorkerExitedEvent exitedEvent, CancellationToken cancellationToken)
        {
            lock (_exits)
            {
                _exits.Add(exitedEvent);
            }

            return Signal();
        }

        public Task OnReloadEndedAsync(WorkerReloadResult result, CancellationToken cancellationToken) => Signal();

        public Task OnCountChangedAsync(WorkerCountChangedEvent countEvent, CancellationToken cancellationToken) => Signal();

        public Task OnPoolStoppedAsync(WorkerPoolEvent poolEvent, CancellationToken cancellationToken) => Signal();

        private Task Signal()
        {
            Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            return Task.CompletedTask;
        }
    }

    /// <summary>A factory made by <see cref="WithWebHostBuilder"/>: its parent's configuration, then its own.</summary>
    private sealed class DerivedFactory(WorkersApplicationFactory<TEntryPoint> parent, Action<IWebHostBuilder> configuration)
        : WorkersApplicationFactory<TEntryPoint>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            parent.ConfigureWebHost(builder);
            configuration(builder);
            UseWorkersSettings(builder);
        }
    }
}
