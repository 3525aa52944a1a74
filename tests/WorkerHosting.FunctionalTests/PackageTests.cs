using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// The package as a user gets it: packed into a folder, installed from there (not a project reference) into an app made
/// by the SDK's <c>web</c> template, plus the one line; the app serves from two workers and stops with SIGTERM.
/// </summary>
public sealed class PackageTests(PackageTests.Feed feed) : IClassFixture<PackageTests.Feed>
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task AWebTemplateAppInstallsThePackageFromAFolderAndServesFromTwoWorkers()
    {
        var appDirectory = await feed.NewWebAppAsync("HelloPackage");
        await RunAsync(appDirectory, "build", "-c", "Release");
        var assembly = Path.Combine(appDirectory, "bin", "Release", "net10.0", "HelloPackage.dll");
        var (app, address) = await AppProcess.WaitUntilListeningAsync(
            AppProcess.StartAssembly(assembly, appDirectory, ["--urls", "http://127.0.0.1:0"]));
        await using var _ = app;

        using var client = Http.NewConnectionPerRequest(address);
        Assert.Equal("Hello World!", await client.GetStringAsync("/"));
        var slots = new HashSet<int>();
        for (var i = 0; i < 200 && slots.Count < 2; i++)
        {
            slots.Add(int.Parse(await client.GetStringAsync("/worker"), CultureInfo.InvariantCulture));
        }

        Assert.Equal([0, 1], slots.Order());

        app.Signal(AppProcess.SigTerm);
        Assert.Equal(0, await app.WaitForExitAsync());
        Assert.Equal(1, app.CountLines(@"Stopped 2 workers in"));
    }

    [Fact]
    public async Task AnXunitProjectTestsTheAppWithWorkersThroughTheTestingPackageFromAFolder()
    {
        var appDirectory = await feed.NewWebAppAsync("ShopPackage");
        var root = Path.GetDirectoryName(appDirectory)!;
        var testsDirectory = Path.Combine(root, "ShopPackage.Tests");
        await RunAsync(root, "new", "xunit", "-o", testsDirectory, "-n", "ShopPackage.Tests");
        File.Copy(Path.Combine(appDirectory, "nuget.config"), Path.Combine(testsDirectory, "nuget.config"));
        await RunAsync(testsDirectory, "add", "reference", Path.Combine(appDirectory, "ShopPackage.csproj"));
        await RunAsync(testsDirectory, "add", "package", "WorkerHosting.Testing", "--version", feed.Version);
        File.Delete(Path.Combine(testsDirectory, "UnitTest1.cs"));
        await File.WriteAllTextAsync(Path.Combine(testsDirectory, "WorkersTests.cs"), """
            using WorkerHosting.Testing;

            namespace ShopPackage.Tests;

            public class WorkersTests(WorkersApplicationFactory<Program> factory) : IClassFixture<WorkersApplicationFactory<Program>>
            {
                [Fact]
                public async Task Both_workers_serve_and_a_crashed_one_is_replaced()
                {
                    using var client = factory.CreateClient();
                    await factory.WaitForReadyWorkersAsync();
                    var slots = new HashSet<string>();
                    for (var i = 0; i < 50 && slots.Count < 2; i++)
                    {
                        slots.Add(await client.GetStringAsync("/worker"));
                    }

                    Assert.Equal(["0", "1"], slots.Order());
                    var crash = await factory.CrashWorkerAsync(1);
                    await factory.WaitForGenerationAsync(1, crash.Generation + 1);
                    Assert.Equal("Hello World!", await client.GetStringAsync("/"));
                }
            }
            """);

        var output = await RunAsync(testsDirectory, "test");

        Assert.Contains("Passed!", output, StringComparison.Ordinal);
        Assert.Matches(@"Passed:\s+1,", output);
    }

    [Theory]
    [InlineData("single-file", "it is a single-file (or in-memory) app", "-p:PublishSingleFile=true", "--self-contained", "false")]
    [InlineData("trimmed", "it was trimmed", "-p:PublishTrimmed=true", "--self-contained", "true")]
    public async Task APublishedFormWorkersCannotRun_StopsAtStartSayingWhyAndWhatToDo(string form, string reason, params string[] publishArguments)
    {
        var appDirectory = await feed.NewWebAppAsync("Hello" + form.Replace("-", "", StringComparison.Ordinal));
        var output = Path.Combine(appDirectory, "out");
        await RunAsync(appDirectory, ["publish", "-c", "Release", "-r", "linux-x64", "-o", output, .. publishArguments]);

        var executable = Path.Combine(output, Path.GetFileName(appDirectory));
        using var process = Process.Start(new ProcessStartInfo(executable, ["--urls", "http://127.0.0.1:0"])
        {
            WorkingDirectory = output,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().DefaultTimeout();
        var text = await stdout + await stderr;

        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains($"WorkerHosting cannot run '{Path.GetFileName(appDirectory)}': {reason}", text, StringComparison.Ordinal);
        Assert.Contains("Publish it framework-dependent as ordinary files", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening on", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// The library packed once for the class into a folder, under a version no other run made (so the NuGet cache cannot
    /// serve an older build under it), and apps made from the web template that install it from there.
    /// </summary>
    public sealed class Feed : IAsyncLifetime
    {
        private readonly TempDirectory _work = TempDirectory.Create("package");

        public string Version { get; } = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

        private string Folder => Path.Combine(_work.Path, "feed");

        public async Task InitializeAsync()
        {
            await RunAsync(_work.Path, "pack", Metadata("LibraryProject"), "-c", "Release", "-o", Folder, $"-p:Version={Version}");
            Assert.True(File.Exists(Path.Combine(Folder, $"WorkerHosting.{Version}.nupkg")), $"dotnet pack made no WorkerHosting.{Version}.nupkg.");
            await RunAsync(_work.Path, "pack", Metadata("TestingProject"), "-c", "Release", "-o", Folder, $"-p:Version={Version}");
            Assert.True(File.Exists(Path.Combine(Folder, $"WorkerHosting.Testing.{Version}.nupkg")), $"dotnet pack made no WorkerHosting.Testing.{Version}.nupkg.");
        }

        /// <summary>An app from 'dotnet new web' with WorkerHosting installed from the folder, the one line, and /worker.</summary>
        public async Task<string> NewWebAppAsync(string name)
        {
            var appDirectory = Path.Combine(_work.Path, name);
            await RunAsync(_work.Path, "new", "web", "-o", appDirectory, "-n", name);
            await File.WriteAllTextAsync(Path.Combine(appDirectory, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="local" value="{Folder}" />
                  </packageSources>
                </configuration>
                """);
            await RunAsync(appDirectory, "add", "package", "WorkerHosting", "--version", Version);

            // The one line, and an endpoint that tells the test which worker answered.
            var program = Path.Combine(appDirectory, "Program.cs");
            var source = await File.ReadAllTextAsync(program);
            const string Builder = "var builder = WebApplication.CreateBuilder(args);";
            const string Build = "var app = builder.Build();";
            Assert.Contains(Builder, source, StringComparison.Ordinal);
            Assert.Contains(Build, source, StringComparison.Ordinal);
            source = source
                .Replace(Builder, Builder + "\nbuilder.UseWorkers(2);", StringComparison.Ordinal)
                .Replace(Build, Build + "\napp.MapGet(\"/worker\", (WorkerHosting.IWorkerContext worker) => worker.Slot);", StringComparison.Ordinal);
            await File.WriteAllTextAsync(program, source);
            return appDirectory;
        }

        public Task DisposeAsync()
        {
            // The test's version stays out of the machine's NuGet cache.
            foreach (var package in new[] { "workerhosting", "workerhosting.testing" })
            {
                var cached = Path.Combine(NuGetPackagesFolder(), package, Version);
                if (Directory.Exists(cached))
                {
                    Directory.Delete(cached, recursive: true);
                }
            }

            _work.Dispose();
            return Task.CompletedTask;
        }
    }

    private static string Metadata(string key) =>
        typeof(PackageTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    private static string NuGetPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>Runs a dotnet command and fails the test with its output if it fails; returns its output.</summary>
    private static async Task<string> RunAsync(string workingDirectory, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        startInfo.Environment["DOTNET_NOLOGO"] = "1";

        // The test run's own MSBuild settings must not leak into the user's app build.
        startInfo.Environment.Remove("MSBuildExtensionsPath");
        startInfo.Environment.Remove("MSBuildSDKsPath");
        startInfo.Environment.Remove("MSBUILD_EXE_PATH");

        using var process = Process.Start(startInfo)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish within {CommandTimeout}.\n{await output}\n{await error}");
        }

        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} failed with exit code {process.ExitCode}.\n{await output}\n{await error}");
        return await output;
    }
}
