using WorkerHosting.Hosting;

namespace WorkerHosting.Tests.Hosting;

public class WorkersPlatformTests
{
    [Fact]
    public void Reason_AFrameworkDependentAppFromFiles_IsNone()
    {
        Assert.Null(WorkersPlatform.Reason("App", dynamicCode: true, location: "/srv/app/App.dll", trimmed: false));
    }

    [Fact]
    public void Reason_NativeAot_SaysSoAndHowToPublish()
    {
        var reason = WorkersPlatform.Reason("App", dynamicCode: false, location: "", trimmed: true);

        Assert.StartsWith("WorkerHosting cannot run 'App': it is native AOT code", reason, StringComparison.Ordinal);
        Assert.Contains("without PublishAot, PublishSingleFile or PublishTrimmed", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Reason_SingleFile_SaysSo()
    {
        var reason = WorkersPlatform.Reason("App", dynamicCode: true, location: "", trimmed: false);

        Assert.StartsWith("WorkerHosting cannot run 'App': it is a single-file (or in-memory) app", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Reason_Trimmed_SaysSo()
    {
        var reason = WorkersPlatform.Reason("App", dynamicCode: true, location: "/srv/app/App.dll", trimmed: true);

        Assert.StartsWith("WorkerHosting cannot run 'App': it was trimmed", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfUnsupported_TheTestAssembly_DoesNotThrow()
    {
        WorkersPlatform.ThrowIfUnsupported(typeof(WorkersPlatformTests).Assembly);
    }
}
