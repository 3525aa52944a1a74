namespace WorkerHosting.Tests.Common;

/// <summary>A new, empty, uniquely named directory in <see cref="Path.GetTempPath"/>, deleted with its contents on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    private TempDirectory(string path) => Path = path;

    public string Path { get; }

    /// <summary>Creates <c>workerhosting-{prefix}-{guid}</c>.</summary>
    public static TempDirectory Create(string prefix)
        => new(Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"workerhosting-{prefix}-{Guid.NewGuid():N}")).FullName);

    public override string ToString() => Path;

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
