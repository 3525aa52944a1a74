using System.Reflection;
using System.Runtime.Loader;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Workers;

/// <summary>
/// Carrying a test's registrations into a worker's load context. This test assembly plays the app: a worker context over
/// it has its own copy of the types below, as a worker has of the app's.
/// </summary>
public sealed class LoadContextTranslatorTests : IDisposable
{
    private readonly WorkerLoadContext _context = new("translator test", typeof(LoadContextTranslatorTests).Assembly.Location, SharedAssemblies.Create());
    private readonly LoadContextTranslator _translator;

    public LoadContextTranslatorTests() => _translator = new LoadContextTranslator(_context);

    public void Dispose() => _context.Unload();

    [Fact]
    public void AFrameworkTypeIsTheSameTypeAndAnAppTypeIsTheWorkersCopy()
    {
        Assert.Same(typeof(string), _translator.Type(typeof(string)));
        Assert.Same(typeof(IServiceProvider), _translator.Type(typeof(IServiceProvider)));

        var mapped = _translator.Type(typeof(Greeting));
        Assert.NotSame(typeof(Greeting), mapped);
        Assert.Equal(typeof(Greeting).FullName, mapped.FullName);
        Assert.Same(_context, AssemblyLoadContext.GetLoadContext(mapped.Assembly));
    }

    [Fact]
    public void GenericsAndArraysOfAppTypesAreBuiltFromTheWorkersCopies()
    {
        var list = _translator.Type(typeof(List<Greeting>));
        var array = _translator.Type(typeof(Greeting[]));
        var options = _translator.Type(typeof(IOptions<Greeting>));

        Assert.Same(typeof(List<>), list.GetGenericTypeDefinition());
        Assert.Same(_translator.Type(typeof(Greeting)), list.GenericTypeArguments[0]);
        Assert.Same(_translator.Type(typeof(Greeting)), array.GetElementType());
        Assert.Same(typeof(IOptions<>), options.GetGenericTypeDefinition());
        Assert.Same(typeof(List<string>), _translator.Type(typeof(List<string>)));
    }

    [Fact]
    public void ALambdaRunsAsTheWorkersCopyWithACopyOfWhatItCaptured()
    {
        var text = "captured " + Guid.NewGuid();
        Func<IServiceProvider, IGreeting> factory = _ => new Greeting { Text = text };

        var mapped = _translator.Delegate(factory, "test");
        var greeting = mapped.DynamicInvoke(new ServiceCollection().BuildServiceProvider())!;

        Assert.Same(_translator.Type(typeof(Greeting)), greeting.GetType());
        Assert.Equal(text, greeting.GetType().GetProperty(nameof(Greeting.Text))!.GetValue(greeting));
        Assert.Same(_translator.Type(typeof(Func<IServiceProvider, IGreeting>)), mapped.GetType());
    }

    [Fact]
    public void AnObjectOfAnAppTypeIsCopiedFieldByFieldAndASharedOneIsHandedOver()
    {
        var shared = new List<string> { "a" };
        var original = new Holder { Name = "holder", Items = shared, Greetings = [new Greeting { Text = "one" }] };
        original.Self = original;

        var copy = _translator.Value(original, "test")!;
        var type = copy.GetType();

        Assert.Same(_translator.Type(typeof(Holder)), type);
        Assert.Equal("holder", type.GetProperty(nameof(Holder.Name))!.GetValue(copy));
        Assert.Same(shared, type.GetProperty(nameof(Holder.Items))!.GetValue(copy));
        Assert.Same(copy, type.GetProperty(nameof(Holder.Self))!.GetValue(copy));
        var greetings = (Array)type.GetProperty(nameof(Holder.Greetings))!.GetValue(copy)!;
        Assert.Equal("one", greetings.GetValue(0)!.GetType().GetProperty(nameof(Greeting.Text))!.GetValue(greetings.GetValue(0)));
        Assert.Same(shared, _translator.Value(shared, "test"));
    }

    [Fact]
    public void ARegistrationIsTranslatedAndMatchesTheWorkersOwnForRemoval()
    {
        var byType = ServiceDescriptor.Singleton<IGreeting, Greeting>();
        var byInstance = ServiceDescriptor.Singleton<IGreeting>(new Greeting { Text = "instance" });

        var translated = WorkerOverrides.Translate(byType, _translator);
        var instance = WorkerOverrides.Translate(byInstance, _translator);

        Assert.Same(_translator.Type(typeof(IGreeting)), translated.ServiceType);
        Assert.Same(_translator.Type(typeof(Greeting)), translated.ImplementationType);
        Assert.Same(_translator.Type(typeof(Greeting)), instance.ImplementationInstance!.GetType());
        Assert.True(WorkerOverrides.Matches(translated, byType, _translator));
        Assert.True(WorkerOverrides.Matches(instance, byInstance, _translator));
        Assert.False(WorkerOverrides.Matches(translated, byInstance, _translator));
        Assert.False(WorkerOverrides.Matches(translated, ServiceDescriptor.Scoped<IGreeting, Greeting>(), _translator));
    }

    [Fact]
    public void AnInstanceOfAGeneratedTypeFailsWithAnErrorThatNamesTheRegistration()
    {
        // A dispatch proxy, as mocking libraries generate: a type of a dynamic assembly, with no counterpart in the worker.
        var proxy = System.Reflection.DispatchProxy.Create<IGreeting, NoProxy>();

        var error = Assert.Throws<NotSupportedException>(() => WorkerOverrides.Translate(ServiceDescriptor.Singleton(proxy), _translator));

        Assert.Contains("The test's registration of IGreeting is an instance of", error.Message, StringComparison.Ordinal);
        Assert.Contains("register a class of the test project instead", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAssemblyThatIsNotTheAppsAndDoesNotReferenceItStaysShared()
    {
        // xunit is among this "app"'s dependencies, so the worker has its own; Polly.Core is WorkerHosting's, shared.
        var shared = typeof(Polly.ResiliencePipeline).Assembly;

        Assert.Same(shared, _context.LoadCounterpart(shared));
        Assert.NotSame(typeof(FactAttribute).Assembly, _context.LoadCounterpart(typeof(FactAttribute).Assembly));
    }

    public class NoProxy : System.Reflection.DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => null;
    }

    public interface IGreeting
    {
        string Text { get; }
    }

    public sealed class Greeting : IGreeting
    {
        public string Text { get; set; } = "";
    }

    public sealed class Holder
    {
        public string? Name { get; set; }

        public List<string>? Items { get; set; }

        public Holder? Self { get; set; }

        public Greeting[]? Greetings { get; set; }
    }
}
