using System.Runtime.Loader;

namespace WorkerHosting.Workers;

internal static partial class ProcessRegistrations
{
    /// <summary>
    /// The worker's handlers of <see cref="AppDomain.DomainUnload"/> and <see cref="AppDomain.ProcessExit"/> run, as the
    /// worker's code is unloaded, what they would run at the end of a process: libraries close what they keep open for
    /// the life of the process there (Microsoft.Data.Sqlite its connection pools, OpenTelemetry its self-diagnostics
    /// loop). Each handler gets <see cref="ExitHandlerTimeout"/>; one that takes longer is left running.
    /// </summary>
    private static void ExitHandlers(Owners owners, bool release, List<string> found)
    {
        if (!release)
        {
            return;
        }

        var domain = AppDomain.CurrentDomain;
        foreach (var name in (string[])[nameof(AppDomain.DomainUnload), nameof(AppDomain.ProcessExit)])
        {
            if (typeof(AppDomain).GetField(name, InstanceMembers)?.GetValue(domain) is not EventHandler handlers)
            {
                continue;
            }

            foreach (var handler in handlers.GetInvocationList().Cast<EventHandler>().Where(owners.Own))
            {
                var run = Task.Run(() => handler(domain, EventArgs.Empty));
                try
                {
                    if (!run.Wait(ExitHandlerTimeout))
                    {
                        found.Add($"{name} handler {Describe(handler)} did not finish within {ExitHandlerTimeout.TotalSeconds} s");
                    }
                }
                catch (AggregateException)
                {
                    // A failing handler is the app's; what it leaves behind is found below, or reported.
                }
            }
        }
    }

    /// <summary>How long the worker's exit handlers may run each.</summary>
    internal static readonly TimeSpan ExitHandlerTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Handlers of the process's static events that are the worker's code.</summary>
    private static void StaticEvents(Owners owners, bool release, List<string> found)
    {
        var domain = AppDomain.CurrentDomain;
        (Type Declaring, object? Target, string Event, string Field)[] events =
        [
            (typeof(AppDomain), domain, nameof(AppDomain.ProcessExit), nameof(AppDomain.ProcessExit)),
            (typeof(AppDomain), domain, nameof(AppDomain.DomainUnload), nameof(AppDomain.DomainUnload)),
            (typeof(AppContext), null, nameof(AppDomain.UnhandledException), nameof(AppDomain.UnhandledException)),
            (typeof(AppContext), null, nameof(AppDomain.FirstChanceException), nameof(AppDomain.FirstChanceException)),
            (typeof(AssemblyLoadContext), null, "AssemblyLoad", "AssemblyLoad"),
            (typeof(AssemblyLoadContext), null, "AssemblyResolve", "AssemblyResolve"),
            (typeof(AssemblyLoadContext), null, "TypeResolve", "TypeResolve"),
            (typeof(AssemblyLoadContext), null, "ResourceResolve", "ResourceResolve"),
            (typeof(AssemblyLoadContext), AssemblyLoadContext.Default, nameof(AssemblyLoadContext.Resolving), "_resolving"),
            (typeof(AssemblyLoadContext), AssemblyLoadContext.Default, nameof(AssemblyLoadContext.ResolvingUnmanagedDll), "_resolvingUnmanagedDll"),
            (typeof(AssemblyLoadContext), AssemblyLoadContext.Default, nameof(AssemblyLoadContext.Unloading), "_unloading"),
            (typeof(Console), null, nameof(Console.CancelKeyPress), "s_cancelCallbacks"),
        ];

        foreach (var (declaring, target, eventName, fieldName) in events)
        {
            var field = declaring.GetField(fieldName, target is null ? StaticMembers : InstanceMembers);
            var remove = declaring.GetEvent(eventName, target is null ? StaticMembers : InstanceMembers)?.GetRemoveMethod(nonPublic: true);
            if (field?.GetValue(target) is not Delegate handlers || remove is null)
            {
                continue;
            }

            foreach (var handler in handlers.GetInvocationList())
            {
                if (owners.Own(handler))
                {
                    found.Add($"a handler of {declaring.Name}.{eventName} ({Describe(handler)})");
                    if (release)
                    {
                        remove.Invoke(target, [handler]);
                    }
                }
            }
        }
    }
}
