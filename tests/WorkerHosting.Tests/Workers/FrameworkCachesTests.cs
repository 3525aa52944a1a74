using WorkerHosting.Workers;

namespace WorkerHosting.Tests.Workers;

public class FrameworkCachesTests
{
    [Fact]
    public void Clear_KeepsTheFrameworksOwnReflectionCaches()
    {
        // A type's reflection cache hands out the same MethodInfo until the cache is cleared; the held MethodInfo keeps
        // that cache alive, so only a clear (not a collection) can make the second lookup return a new one.
        var before = typeof(Uri).GetMethod(nameof(Uri.GetLeftPart), [typeof(UriPartial)]);

        FrameworkCaches.Clear();

        Assert.NotNull(before);
        Assert.Same(before, typeof(Uri).GetMethod(nameof(Uri.GetLeftPart), [typeof(UriPartial)]));
    }
}
