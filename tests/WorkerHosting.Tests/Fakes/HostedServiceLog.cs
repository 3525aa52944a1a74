using System.Collections.Concurrent;

namespace WorkerHosting.Tests.Fakes;

/// <summary>What the fake hosted services were asked to do, in order.</summary>
internal sealed class HostedServiceLog
{
    private readonly ConcurrentQueue<string> _events = new();

    public IReadOnlyList<string> Events => [.. _events];

    public void Add(string name) => _events.Enqueue(name);
}
