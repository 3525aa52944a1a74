using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

static class Env
{
    public static string S(string n, string d) => Environment.GetEnvironmentVariable(n) ?? d;
    public static int I(string n, int d) => int.TryParse(Environment.GetEnvironmentVariable(n), out var v) ? v : d;
    public static bool B(string n) => Environment.GetEnvironmentVariable(n) == "1";
}

sealed class PluginContext : AssemblyLoadContext
{
    static readonly HashSet<string> Shared = BuildShared();
    readonly AssemblyDependencyResolver _resolver;
    public static int LoadedCount;

    static HashSet<string> BuildShared()
    {
        var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var dirs = new List<string> { Path.GetDirectoryName(typeof(object).Assembly.Location)! };
        // SHARE=netcore -> only Microsoft.NETCore.App; default: also Microsoft.AspNetCore.App (like WorkerHosting)
        if (Env.S("SHARE", "aspnet") == "aspnet")
            dirs.Add(Path.GetDirectoryName(typeof(Microsoft.Extensions.DependencyInjection.ServiceCollection).Assembly.Location)!);
        foreach (var d in dirs)
            foreach (var f in Directory.GetFiles(d, "*.dll"))
                set.Add(Path.GetFileNameWithoutExtension(f));
        return set;
    }

    public PluginContext(string name, string pluginPath) : base(name, isCollectible: !Env.B("NONCOLLECTIBLE"))
    {
        _resolver = new AssemblyDependencyResolver(pluginPath);
    }

    public Assembly LoadPlugin(string path) => LoadFile(path);

    Assembly LoadFile(string path)
    {
        Interlocked.Increment(ref LoadedCount);
        if (Env.S("LOADMODE", "stream") == "path")
            return LoadFromAssemblyPath(path);
        using var asm = new MemoryStream(File.ReadAllBytes(path));
        var pdb = Path.ChangeExtension(path, ".pdb");
        if (!Env.B("NOPDB") && File.Exists(pdb))
        {
            using var sym = new MemoryStream(File.ReadAllBytes(pdb));
            return LoadFromStream(asm, sym);
        }
        return LoadFromStream(asm);
    }

    protected override Assembly? Load(AssemblyName name)
    {
        if (name.Name is null || Shared.Contains(name.Name)) return null;
        var path = _resolver.ResolveAssemblyToPath(name);
        return path is null ? null : LoadFile(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }
}

sealed class Instance
{
    public required PluginContext Alc;
    public required object Runner;
    public required MethodInfo StopMethod;
    public int Gen;
}

static class Program
{
    const BindingFlags S = BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public;
    const BindingFlags I = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
    static string PluginPath = "";
    static string DbDir = "";
    static readonly List<AssemblyLoadContext> Kept = new();

    [MethodImpl(MethodImplOptions.NoInlining)]
    static Instance Start(int gen)
    {
        var alc = new PluginContext("plugin-" + gen, PluginPath);
        var asm = alc.LoadPlugin(PluginPath);
        var entry = asm.GetType(Env.S("ENTRY", "Plugin.Entry"))!;
        var db = Path.Combine(DbDir, $"{Environment.ProcessId}-gen{gen}.db");
        var runner = entry.GetMethod("Start")!.Invoke(null, [db, Env.I("THREADS", 3)])!;
        return new Instance { Alc = alc, Runner = runner, StopMethod = entry.GetMethod("Stop")!, Gen = gen };
    }

    static bool Owned(object? o, AssemblyLoadContext alc) => o switch
    {
        null => false,
        Delegate d => d.GetInvocationList().Any(e => OwnedType(e.Method.DeclaringType, alc) || OwnedType(e.Target?.GetType(), alc)),
        Type t => OwnedType(t, alc),
        _ => OwnedType(o.GetType(), alc),
    };

    static bool OwnedType(Type? t, AssemblyLoadContext alc)
    {
        if (t is null || !t.IsCollectible) return false;
        if (t.HasElementType) return OwnedType(t.GetElementType(), alc);
        return AssemblyLoadContext.GetLoadContext(t.Assembly) == alc || (t.IsConstructedGenericType && t.GenericTypeArguments.Any(a => OwnedType(a, alc)));
    }

    static object? F(object o, string name)
    {
        for (var t = o.GetType(); t != null; t = t.BaseType)
            if (t.GetField(name, I | BindingFlags.DeclaredOnly) is { } f) return f.GetValue(o);
        return null;
    }

    // Release what the plugin left in process-wide registries (what WorkerHosting's ReleaseLeftovers does).
    [MethodImpl(MethodImplOptions.NoInlining)]
    static List<string> Release(AssemblyLoadContext alc)
    {
        var found = new List<string>();
        // 1. Meters whose observable callbacks are the plugin's
        if (!Env.B("NORELEASE_METERS"))
        {
            var syncObj = typeof(Instrument).GetProperty("SyncObject", S)?.GetValue(null)!;
            List<Meter> meters;
            lock (syncObj) meters = [.. (List<Meter>)typeof(Meter).GetField("s_allMeters", S)!.GetValue(null)!];
            foreach (var m in meters)
            {
                bool own = false;
                lock (syncObj)
                    foreach (var inst in (System.Collections.IList)F(m, "_instruments")!)
                        if (inst is Instrument { IsObservable: true } oi && Owned(F(oi, "_callback"), alc)) { own = true; break; }
                if (own) { found.Add("meter " + m.Name); m.Dispose(); }
            }
        }
        // 2. ProcessExit / DomainUnload handlers: run then remove
        if (!Env.B("NORELEASE_EXIT"))
        {
            var domain = AppDomain.CurrentDomain;
            foreach (var (field, ev) in new[] { ("ProcessExit", "ProcessExit"), ("DomainUnload", "DomainUnload") })
            {
                var fi = typeof(AppDomain).GetField(field, I) ?? typeof(AppContext).GetField(field, S);
                var del = fi?.GetValue(fi.IsStatic ? null : domain) as Delegate;
                var remove = typeof(AppDomain).GetEvent(ev)!.GetRemoveMethod()!;
                if (del is null) { found.Add("no field " + field); continue; }
                foreach (var h in del.GetInvocationList())
                    if (Owned(h, alc))
                    {
                        found.Add($"{ev} {h.Method.DeclaringType}.{h.Method.Name}");
                        if (!Env.B("NORUN_EXIT")) ((EventHandler)h)(domain, EventArgs.Empty);
                        remove.Invoke(domain, [h]);
                    }
            }
        }
        // 3. Timers with plugin callbacks/state
        if (!Env.B("NORELEASE_TIMERS"))
        {
            var qt = typeof(Timer).Assembly.GetType("System.Threading.TimerQueue")!;
            var timers = new List<object>();
            foreach (var q in (Array)qt.GetProperty("Instances", S)!.GetValue(null)!)
            {
                if (q is null) continue;
                var lk = (Lock)q.GetType().GetProperty("SharedLock", I)!.GetValue(q)!;
                lock (lk)
                    foreach (var ln in new[] { "_shortTimers", "_longTimers" })
                        for (var t = F(q, ln); t != null; t = F(t, "_next")) timers.Add(t);
            }
            foreach (var t in timers)
                if (Owned(F(t, "_timerCallback"), alc) || Owned(F(t, "_state"), alc))
                {
                    found.Add("timer " + (F(t, "_timerCallback") as Delegate)?.Method.Name);
                    t.GetType().GetMethod("Dispose", I, Type.EmptyTypes)?.Invoke(t, null);
                }
        }
        // 4. Framework caches keyed by plugin types (hot-reload handlers + ParameterBindingMethodCache)
        if (!Env.B("NORELEASE_CACHES"))
        {
            foreach (var asm in AssemblyLoadContext.Default.Assemblies)
            {
                if (asm == typeof(object).Assembly) continue;
                if (!Env.B("NO_MUH"))
                foreach (var h in asm.GetCustomAttributes<System.Reflection.Metadata.MetadataUpdateHandlerAttribute>())
                    try { h.HandlerType.GetMethod("ClearCache", S, [typeof(Type[])])?.Invoke(null, [null]); } catch { }
                if (asm.GetType("Microsoft.AspNetCore.Http.ParameterBindingMethodCache", false) is { } ct)
                    foreach (var f in ct.GetFields(S))
                        if (f.FieldType.IsGenericType && f.FieldType.GetGenericTypeDefinition() == typeof(Lazy<>) && f.GetValue(null) is { } lazy
                            && (bool)f.FieldType.GetProperty("IsValueCreated")!.GetValue(lazy)!)
                        {
                            var cache = f.FieldType.GetProperty("Value")!.GetValue(lazy)!;
                            foreach (var cf in cache.GetType().GetFields(I))
                                if (cf.GetValue(cache) is System.Collections.IDictionary d)
                                    foreach (var k in d.Keys.Cast<object>().ToList())
                                        if (k is Type { IsCollectible: true }) { d.Remove(k); found.Add("pbmc key"); }
                        }
            }
        }
        return found;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static WeakReference StopAndUnload(Instance inst, out long ops, out List<string> released)
    {
        ops = (long)inst.StopMethod.Invoke(null, [inst.Runner])!;
        released = Env.B("NORELEASE") ? [] : Release(inst.Alc);
        var wr = new WeakReference(inst.Alc, trackResurrection: true);
        // NOUNLOAD=1: Unload() is not called, but an unreferenced collectible context's finalizer starts the unload
        // itself (AssemblyLoadContext's finalizer calls InitiateUnload), so the context is still collected.
        // KEEPALC=1: Unload() is not called and the host keeps a reference: nothing is ever unloaded.
        if (Env.B("KEEPALC")) Kept.Add(inst.Alc);
        else if (!Env.B("NOUNLOAD")) inst.Alc.Unload();
        return wr;
    }

    static int Main(string[] args)
    {
        // Relative paths are resolved from the current directory (run.sh runs from the folder of this reproducer).
        PluginPath = Path.GetFullPath(Env.S("PLUGIN", "plugin/bin/Release/net10.0/plugin.dll"));
        DbDir = Path.GetFullPath(Env.S("DBDIR", "db"));
        Directory.CreateDirectory(DbDir);
        int cycles = Env.I("CYCLES", 200), live = Env.I("LIVE", 2), maxSeconds = Env.I("SECONDS", 300), runMs = Env.I("RUNMS", 300);
        var sw = Stopwatch.StartNew();
        var insts = new List<Instance>();
        int gen = 0;
        for (int i = 0; i < live; i++) insts.Add(Start(gen++));
        var pending = new List<(WeakReference wr, int gen, int tries)>();
        int unloaded = 0, leaked = 0;
        Console.WriteLine($"pid {Environment.ProcessId} cycles={cycles} live={live} share={Env.S("SHARE", "aspnet")} load={Env.S("LOADMODE", "stream")} gc={(System.Runtime.GCSettings.IsServerGC ? "server" : "wks")}");
        for (int c = 1; c <= cycles && sw.Elapsed.TotalSeconds < maxSeconds; c++)
        {
            Thread.Sleep(runMs);
            var t0 = sw.Elapsed.TotalSeconds;
            var next = Start(gen++);
            var tStart = sw.Elapsed.TotalSeconds - t0;
            var old = insts[0];
            insts.RemoveAt(0);
            insts.Add(next);
            var wr = StopAndUnload(old, out var ops, out var released);
            old = null!;
            int tries = 0;
            while (wr.IsAlive && tries < Env.I("GCTRIES", 20))
            {
                GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
                tries++;
                if (wr.IsAlive) Thread.Sleep(20);
            }
            if (wr.IsAlive) { leaked++; pending.Add((wr, gen - 1, tries)); } else unloaded++;
            pending.RemoveAll(p => { if (!p.wr.IsAlive) { unloaded++; leaked--; return true; } return false; });
            if (c <= 3 || c % 10 == 0 || Env.B("VERBOSE"))
                Console.WriteLine($"[{sw.Elapsed.TotalSeconds:F1}s] cycle {c}: start={tStart:F1}s stopped gen {gen - live - 1} ops={ops} released=[{string.Join("; ", released)}] alive={wr.IsAlive} tries={tries} unloaded={unloaded} stillAlive={leaked}");
        }
        foreach (var i in insts) i.StopMethod.Invoke(null, [i.Runner]);
        Console.WriteLine($"DONE unloaded={unloaded} stillAlive={leaked} elapsed={sw.Elapsed.TotalSeconds:F1}s");
        return 0;
    }
}
