namespace HostBuilderApp;

/// <summary>A public type of this app, for WorkersApplicationFactory&lt;Marker&gt; (its Program clashes with other apps' in the tests).</summary>
public sealed class Marker
{
}

/// <summary>What the app answers with, at <c>/greeting</c>: tests replace it.</summary>
public interface IGreeting
{
    string Text { get; }
}

internal sealed class Greeting : IGreeting
{
    public string Text => "hello from the app";
}
