namespace WorkerHosting.Lifecycle;

/// <summary>
/// Watches the app's folder (Workers:Watch) and calls back once the app's files (assemblies, deps.json) have stopped
/// changing for <see cref="QuietPeriod"/>, so a build or deploy that writes many files triggers one reload.
/// </summary>
internal sealed class AppWatcher : IDisposable
{
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(1);

    private readonly FileSystemWatcher _watcher;
    private readonly ITimer _timer;

    public AppWatcher(string directory, TimeProvider timeProvider, Action onChanged)
    {
        _timer = timeProvider.CreateTimer(static state => ((Action)state!)(), onChanged, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _watcher = new FileSystemWatcher(directory)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
            IncludeSubdirectories = false,
        };
        _watcher.Filters.Add("*.dll");
        _watcher.Filters.Add("*.deps.json");
        _watcher.Changed += OnChanged;
        _watcher.Created += OnChanged;
        _watcher.Renamed += OnChanged;
        _watcher.EnableRaisingEvents = true;
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _timer.Dispose();
    }

    /// <summary>Every change pushes the callback back to one quiet period after the last change.</summary>
    private void OnChanged(object sender, FileSystemEventArgs e) => _timer.Change(QuietPeriod, Timeout.InfiniteTimeSpan);
}
