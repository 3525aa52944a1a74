using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RealWorldApp.Services;

/// <summary>The app's own metrics and traces.</summary>
public sealed class AppTelemetry
{
    public const string Name = "RealWorldApp";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Counter<long> _postsCreated;
    private readonly Counter<long> _greetings;
    private readonly Counter<long> _ticks;

    public AppTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        _postsCreated = meter.CreateCounter<long>("realworld.posts.created", description: "Posts written through the API.");
        _greetings = meter.CreateCounter<long>("realworld.greetings", description: "gRPC greetings answered.");
        _ticks = meter.CreateCounter<long>("realworld.background.ticks", description: "Ticks of the background service.");
    }

    public void PostCreated(int blogId) => _postsCreated.Add(1, new KeyValuePair<string, object?>("blog.id", blogId));

    public void Greeted() => _greetings.Add(1);

    public void Ticked() => _ticks.Add(1);
}
