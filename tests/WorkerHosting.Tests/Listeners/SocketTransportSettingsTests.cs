using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using WorkerHosting.Listeners;

namespace WorkerHosting.Tests.Listeners;

public class SocketTransportSettingsTests
{
    [Fact]
    public void Constructor_DefaultOptions_HasKestrelsDefaults()
    {
        var settings = new SocketTransportSettings(Options.Create(new SocketTransportOptions()));

        Assert.Equal(512, settings.Backlog);
        Assert.True(settings.NoDelay);
        AssertEquivalent(new SocketConnectionFactoryOptions(), settings.CreateConnectionFactoryOptions());
    }

    [Fact]
    public void Constructor_ConfiguredOptions_CarriesEveryValue()
    {
        var settings = new SocketTransportSettings(Options.Create(new SocketTransportOptions
        {
            Backlog = 1000,
            NoDelay = false,
            IOQueueCount = 3,
            WaitForDataBeforeAllocatingBuffer = false,
            MaxReadBufferSize = 4096,
            MaxWriteBufferSize = null,
            UnsafePreferInlineScheduling = true,
        }));

        Assert.Equal(1000, settings.Backlog);
        Assert.False(settings.NoDelay);
        var factoryOptions = settings.CreateConnectionFactoryOptions();
        Assert.Equal(3, factoryOptions.IOQueueCount);
        Assert.False(factoryOptions.WaitForDataBeforeAllocatingBuffer);
        Assert.Equal(4096, factoryOptions.MaxReadBufferSize);
        Assert.Null(factoryOptions.MaxWriteBufferSize);
        Assert.True(factoryOptions.UnsafePreferInlineScheduling);
    }

    [Fact]
    public void Constructor_OptionsChangedAfterwards_KeepsWhatItRead()
    {
        var transport = new SocketTransportOptions { Backlog = 100, IOQueueCount = 2 };
        var settings = new SocketTransportSettings(Options.Create(transport));

        transport.Backlog = 5;
        transport.IOQueueCount = 9;

        Assert.Equal(100, settings.Backlog);
        Assert.Equal(2, settings.CreateConnectionFactoryOptions().IOQueueCount);
    }

    [Fact]
    public void CreateConnectionFactoryOptions_CalledTwice_ReturnsSeparateInstances()
    {
        var settings = new SocketTransportSettings(Options.Create(new SocketTransportOptions()));

        Assert.NotSame(settings.CreateConnectionFactoryOptions(), settings.CreateConnectionFactoryOptions());
    }

    [Fact]
    public void CreateConnectionFactory_NullLoggerFactory_ThrowsArgumentNullException()
    {
        var settings = new SocketTransportSettings(Options.Create(new SocketTransportOptions()));

        Assert.Throws<ArgumentNullException>(() => settings.CreateConnectionFactory(null!));
    }

    [Fact]
    public void CreateConnectionFactory_LoggerFactory_CreatesAFactory()
    {
        var settings = new SocketTransportSettings(Options.Create(new SocketTransportOptions()));

        using var factory = settings.CreateConnectionFactory(NullLoggerFactory.Instance);

        Assert.NotNull(factory);
    }

    private static void AssertEquivalent(SocketConnectionFactoryOptions expected, SocketConnectionFactoryOptions actual)
    {
        Assert.Equal(expected.IOQueueCount, actual.IOQueueCount);
        Assert.Equal(expected.WaitForDataBeforeAllocatingBuffer, actual.WaitForDataBeforeAllocatingBuffer);
        Assert.Equal(expected.MaxReadBufferSize, actual.MaxReadBufferSize);
        Assert.Equal(expected.MaxWriteBufferSize, actual.MaxWriteBufferSize);
        Assert.Equal(expected.UnsafePreferInlineScheduling, actual.UnsafePreferInlineScheduling);
    }
}
