namespace WorkerHosting.Tests.Common;

/// <summary>
/// A unique path in <see cref="Path.GetTempPath"/> for a file the test (or the app it runs) may create; deleted on
/// dispose if it exists. Creating the path does not create the file: marker files are created when the test needs them.
/// </summary>
public sealed class TempFile : IDisposable
{
    private TempFile(string path) => Path = path;

    public string Path { get; }

    /// <summary>A new unique path, <c>workerhosting-{prefix}-{guid}{extension}</c>; no file is created.</summary>
    public static TempFile Create(string prefix, string extension = "")
        => new(System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"workerhosting-{prefix}-{Guid.NewGuid():N}{extension}"));

    public override string ToString() => Path;

    public void Dispose() => File.Delete(Path);
}
