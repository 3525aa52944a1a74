using Microsoft.Extensions.Options;

namespace MinimalApp;

/// <summary>What <c>/greeting</c> answers: a service tests replace with a fake of their own.</summary>
public interface IGreeting
{
    string Text { get; }
}

/// <summary>The app's greeting, from its options (tests configure them).</summary>
public sealed class GreetingOptions
{
    public string Text { get; set; } = "hello from the app";
}

internal sealed class Greeting(IOptions<GreetingOptions> options) : IGreeting
{
    public string Text => options.Value.Text;
}
