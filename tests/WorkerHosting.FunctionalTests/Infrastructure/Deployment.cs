namespace WorkerHosting.FunctionalTests.Infrastructure;

/// <summary>A copy of a test app's build output in a temporary folder, which a test can overwrite with another build.</summary>
internal sealed class Deployment : IDisposable
{
    private readonly TempDirectory _directory;
    private readonly string _assemblyName;

    private Deployment(TempDirectory directory, string assemblyName)
    {
        _directory = directory;
        _assemblyName = assemblyName;
    }

    public string Directory => _directory.Path;

    public string AssemblyPath => Path.Combine(Directory, _assemblyName + ".dll");

    public static Deployment Of(string project)
    {
        var source = Path.GetDirectoryName(TestApps.AssemblyPath(project))!;
        var directory = TempDirectory.Create("deploy");
        CopyDirectory(source, directory.Path);
        return new Deployment(directory, project);
    }

    /// <summary>Copies another build's files over this one's, in place (the files keep their inodes), as a build does.</summary>
    public void Overwrite(string project)
    {
        var source = Path.GetDirectoryName(TestApps.AssemblyPath(project))!;
        foreach (var file in new[] { _assemblyName + ".dll", _assemblyName + ".pdb" })
        {
            using var from = File.OpenRead(Path.Combine(source, file));
            using var to = new FileStream(Path.Combine(Directory, file), FileMode.Truncate, FileAccess.Write);
            from.CopyTo(to);
        }
    }

    public void Dispose() => _directory.Dispose();

    private static void CopyDirectory(string source, string destination)
    {
        System.IO.Directory.CreateDirectory(destination);
        foreach (var file in System.IO.Directory.EnumerateFiles(source))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }

        foreach (var directory in System.IO.Directory.EnumerateDirectories(source))
        {
            CopyDirectory(directory, Path.Combine(destination, Path.GetFileName(directory)));
        }
    }
}
