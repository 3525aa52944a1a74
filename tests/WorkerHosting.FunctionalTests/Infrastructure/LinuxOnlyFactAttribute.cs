namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>A test that reads what only Linux exposes (/proc): skipped elsewhere, with the reason, never passed.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class LinuxOnlyFactAttribute : FactAttribute
{
    public LinuxOnlyFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Reads the app's sockets from /proc, which only Linux has.";
        }
    }
}
