using System.Reflection;
using System.Runtime.CompilerServices;

namespace WorkerHosting.Hosting;

/// <summary>
/// Stops an app at UseWorkers where workers cannot run it, saying why and what to do: every worker loads the app's
/// assemblies from disk into a collectible load context, which needs the app's files (not single-file), the runtime's
/// JIT (not native AOT), and the full framework and app (not trimmed: WorkerHosting and the app's own reflection need
/// what the trimmer removes).
/// </summary>
internal static class WorkersPlatform
{
    /// <summary>The switch a trimmed publish (PublishTrimmed) sets in the app's runtimeconfig.json.</summary>
    internal const string TrimmedSwitch = "Microsoft.Extensions.DependencyInjection.VerifyOpenGenericServiceTrimmability";

    public static void ThrowIfUnsupported(Assembly application)
    {
        ArgumentNullException.ThrowIfNull(application);

        var trimmed = AppContext.TryGetSwitch(TrimmedSwitch, out var verify) && verify;
        if (Reason(application.GetName().Name ?? "the app", RuntimeFeature.IsDynamicCodeSupported, application.Location, trimmed) is { } reason)
        {
            throw new NotSupportedException(reason);
        }
    }

    /// <summary>Why workers cannot run the app here, or <see langword="null"/> when they can.</summary>
    internal static string? Reason(string name, bool dynamicCode, string location, bool trimmed)
    {
        const string Publish = "Publish it framework-dependent as ordinary files (dotnet publish without PublishAot, PublishSingleFile or PublishTrimmed), or run it without UseWorkers.";
        if (!dynamicCode)
        {
            return $"WorkerHosting cannot run '{name}': it is native AOT code, and workers load the app's assemblies into collectible load contexts, which needs the JIT. {Publish}";
        }

        if (string.IsNullOrEmpty(location))
        {
            return $"WorkerHosting cannot run '{name}': it is a single-file (or in-memory) app, and workers load the app's assemblies from its files on disk. {Publish}";
        }

        if (trimmed)
        {
            return $"WorkerHosting cannot run '{name}': it was trimmed, and workers load the whole app into collectible load contexts and reflect over framework internals the trimmer removes. {Publish}";
        }

        return null;
    }
}
