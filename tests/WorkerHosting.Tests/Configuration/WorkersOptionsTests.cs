namespace WorkerHosting.Tests.Configuration;

public class WorkersOptionsTests
{
    [Fact]
    public void Count_Default_IsProcessorCount()
    {
        var options = new WorkersOptions();

        Assert.Equal(Environment.ProcessorCount, options.Count);
    }

    [Fact]
    public void GracefulTimeout_Default_IsThirtySeconds()
    {
        var options = new WorkersOptions();

        Assert.Equal(TimeSpan.FromSeconds(30), options.GracefulTimeout);
    }

    [Fact]
    public void SectionName_Constant_IsWorkers()
    {
        Assert.Equal("Workers", WorkersOptions.SectionName);
    }
}
