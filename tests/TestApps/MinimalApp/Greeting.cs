namespace MinimalApp;

/// <summary>What <c>/greeting</c> answers: a service tests replace with a fake of their own.</summary>
public interface IGreeting
{
    string Text { get; }
}

internal sealed class Greeting : IGreeting
{
    public string Text => "hello from the app";
}
