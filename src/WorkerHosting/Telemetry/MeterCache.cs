using System.Diagnostics.Metrics;

namespace WorkerHosting.Telemetry;

/// <summary>
/// The meters one factory created, one per name, version and tags (as the host's own meter factory keeps them): asking
/// twice for the same meter returns the same instance, and disposing the cache disposes them all.
/// </summary>
internal sealed class MeterCache(object scope, Func<MeterOptions, Meter>? create = null) : IDisposable
{
    private readonly Func<MeterOptions, Meter> _create = create ?? (options => new Meter(options));

    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<Meter>> _meters = new(StringComparer.Ordinal);
    private bool _disposed;

    public Meter GetOrCreate(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Scope is not null && !ReferenceEquals(options.Scope, scope))
        {
            throw new InvalidOperationException($"The meter '{options.Name}' names a scope of its own; a meter factory sets the scope of the meters it creates. Leave MeterOptions.Scope unset.");
        }

        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_meters.TryGetValue(options.Name, out var named))
            {
                named = [];
                _meters[options.Name] = named;
            }

            foreach (var meter in named)
            {
                if (meter.Version == options.Version && SameTags(meter.Tags, options.Tags))
                {
                    return meter;
                }
            }

            var created = _create(new MeterOptions(options.Name)
            {
                Version = options.Version,
                Tags = options.Tags,
                Scope = scope,
                TelemetrySchemaUrl = options.TelemetrySchemaUrl,
            });
            named.Add(created);
            return created;
        }
    }

    public void Dispose()
    {
        List<Meter> meters;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            meters = [.. _meters.Values.SelectMany(m => m)];
            _meters.Clear();
        }

        foreach (var meter in meters)
        {
            if (meter is SharedMeter shared)
            {
                shared.Release();
            }
            else
            {
                meter.Dispose();
            }
        }
    }

    /// <summary>The same tags, in any order (a meter keeps its tags sorted by key).</summary>
    private static bool SameTags(IEnumerable<KeyValuePair<string, object?>>? left, IEnumerable<KeyValuePair<string, object?>>? right)
    {
        var a = left?.OrderBy(t => t.Key, StringComparer.Ordinal).ToList() ?? [];
        var b = right?.OrderBy(t => t.Key, StringComparer.Ordinal).ToList() ?? [];
        return a.Count == b.Count && a.Zip(b).All(p => p.First.Key == p.Second.Key && Equals(p.First.Value, p.Second.Value));
    }
}
