using Microsoft.EntityFrameworkCore;

namespace Plugin;

public class Blog
{
    public int Id { get; set; }
    public string Name { get; set; } = "";
    public List<Post> Posts { get; set; } = new();
}

public class Post
{
    public int Id { get; set; }
    public string Title { get; set; } = "";
    public int Likes { get; set; }
    public int BlogId { get; set; }
    public Blog? Blog { get; set; }
}

public class BloggingContext(string path) : DbContext
{
    public DbSet<Blog> Blogs => Set<Blog>();
    public DbSet<Post> Posts => Set<Post>();
    protected override void OnConfiguring(DbContextOptionsBuilder o) => o.UseSqlite($"Data Source={path}");
    protected override void OnModelCreating(ModelBuilder b)
    {
        b.Entity<Blog>().HasMany(x => x.Posts).WithOne(p => p.Blog!).HasForeignKey(p => p.BlogId);
        b.Entity<Post>().HasIndex(p => p.Likes);
    }
}

public sealed class Runner
{
    static readonly Func<BloggingContext, int, IEnumerable<Post>> s_compiled =
        EF.CompileQuery((BloggingContext c, int min) => c.Posts.Where(p => p.Likes >= min).OrderBy(p => p.Id).Take(5));

    readonly string _path;
    readonly List<Thread> _threads = new();
    volatile bool _stop;
    long _ops;
    public Exception? Error;

    public Runner(string path, int threads)
    {
        _path = path;
        using (var c = new BloggingContext(path))
        {
            c.Database.EnsureDeleted();
            c.Database.EnsureCreated();
            for (int i = 0; i < 5; i++)
                c.Blogs.Add(new Blog { Name = "b" + i, Posts = Enumerable.Range(0, 5).Select(j => new Post { Title = $"p{i}.{j}", Likes = j }).ToList() });
            c.SaveChanges();
        }
        for (int t = 0; t < threads; t++)
        {
            var th = new Thread(Loop) { IsBackground = true, Name = "plugin-" + t };
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
                using var c = new BloggingContext(_path);
                switch (rnd.Next(6))
                {
                    case 0:
                        _ = c.Blogs.Include(b => b.Posts).Where(b => b.Name.StartsWith("b")).ToList();
                        break;
                    case 1:
                        _ = c.Blogs.Select(b => new { b.Name, Count = b.Posts.Count, Top = b.Posts.OrderByDescending(p => p.Likes).Select(p => p.Title).FirstOrDefault() }).ToList();
                        break;
                    case 2:
                        _ = s_compiled(c, rnd.Next(5)).ToList();
                        break;
                    case 3:
                        var blog = c.Blogs.OrderBy(b => b.Id).Skip(rnd.Next(5)).First();
                        blog.Posts.Add(new Post { Title = "n" + rnd.Next(), Likes = rnd.Next(10) });
                        c.SaveChanges();
                        break;
                    case 4:
                        var old = c.Posts.Where(p => p.Likes > 7).OrderBy(p => p.Id).FirstOrDefault();
                        if (old != null) { c.Posts.Remove(old); c.SaveChanges(); }
                        break;
                    case 5:
                        int min = rnd.Next(5);
                        _ = c.Posts.AsNoTracking().Where(p => p.Likes > min && p.Title.Contains("p")).Select(p => new { p.Title, Blog = p.Blog!.Name }).ToList();
                        break;
                }
                Interlocked.Increment(ref _ops);
            }
            catch (DbUpdateException) { }
            catch (Exception e) { if (errors++ < 2) Console.Error.WriteLine("plugin thread error: " + e); }
        }
    }

    public long Stop()
    {
        _stop = true;
        foreach (var t in _threads) t.Join();
        _threads.Clear();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return Interlocked.Read(ref _ops);
    }
}

public static class Entry
{
    public static object Start(string path, int threads) => new Runner(path, threads);
    public static long Stop(object runner) => ((Runner)runner).Stop();
}
