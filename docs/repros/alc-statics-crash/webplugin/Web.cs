using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Plugin;

public sealed class WebRunner
{
    readonly WebApplication _app;
    readonly List<Thread> _threads = new();
    readonly HttpClient _client;
    volatile bool _stop;
    long _ops;

    public WebRunner(string path, int threads)
    {
        using (var c = new BloggingContext(path))
        {
            c.Database.EnsureDeleted();
            c.Database.EnsureCreated();
            for (int i = 0; i < 5; i++)
                c.Blogs.Add(new Blog { Name = "b" + i, Posts = Enumerable.Range(0, 5).Select(j => new Post { Title = $"p{i}.{j}", Likes = j }).ToList() });
            c.SaveChanges();
        }
        var b = WebApplication.CreateSlimBuilder();
        b.Logging.ClearProviders();
        b.WebHost.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
        b.Services.AddDbContext<BloggingContext2>(o => o.UseSqlite($"Data Source={path}"));
        _app = b.Build();
        _app.MapGet("/blogs", (BloggingContext2 c) => string.Join(",", c.Blogs.Include(x => x.Posts).Select(x => new { x.Name, N = x.Posts.Count }).ToList()));
        _app.MapGet("/posts/{min:int}", (BloggingContext2 c, int min) => string.Join(",", c.Posts.AsNoTracking().Where(p => p.Likes >= min).Select(p => new { p.Title, Blog = p.Blog!.Name }).Take(10).ToList()));
        _app.MapPost("/posts", (BloggingContext2 c) =>
        {
            var blog = c.Blogs.OrderBy(x => x.Id).First();
            blog.Posts.Add(new Post { Title = "n" + Random.Shared.Next(), Likes = Random.Shared.Next(10) });
            try { c.SaveChanges(); } catch (DbUpdateException) { }
            return "1";
        });
        _app.StartAsync().GetAwaiter().GetResult();
        var addr = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new HttpClient { BaseAddress = new Uri(addr) };
        for (int t = 0; t < threads; t++)
        {
            var th = new Thread(Loop) { IsBackground = true, Name = "web-" + t };
            _threads.Add(th);
            th.Start(t);
        }
    }

    void Loop(object? o)
    {
        var rnd = new Random((int)o!);
        int errors = 0;
        while (!_stop)
        {
            try
            {
                switch (rnd.Next(3))
                {
                    case 0: _client.GetStringAsync("/blogs").GetAwaiter().GetResult(); break;
                    case 1: _client.GetStringAsync("/posts/" + rnd.Next(5)).GetAwaiter().GetResult(); break;
                    case 2: _client.PostAsync("/posts", null).GetAwaiter().GetResult().Dispose(); break;
                }
                Interlocked.Increment(ref _ops);
            }
            catch (Exception e) { if (errors++ < 2) Console.Error.WriteLine("web thread error: " + e.Message); }
        }
    }

    public long Stop()
    {
        _stop = true;
        foreach (var t in _threads) t.Join();
        _client.Dispose();
        _app.StopAsync().GetAwaiter().GetResult();
        var dl = _app.Services.GetService<System.Diagnostics.DiagnosticListener>();
        ((IDisposable)_app).Dispose();
        dl?.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return Interlocked.Read(ref _ops);
    }
}

public class BloggingContext2(DbContextOptions<BloggingContext2> options) : DbContext(options)
{
    public DbSet<Blog> Blogs => Set<Blog>();
    public DbSet<Post> Posts => Set<Post>();
    protected override void OnModelCreating(ModelBuilder b)
    {
        b.Entity<Blog>().HasMany(x => x.Posts).WithOne(p => p.Blog!).HasForeignKey(p => p.BlogId);
    }
}

public static class WebEntry
{
    public static object Start(string path, int threads) => new WebRunner(path, threads);
    public static long Stop(object runner) => ((WebRunner)runner).Stop();
}
