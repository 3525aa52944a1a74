using Microsoft.EntityFrameworkCore;

namespace RealWorldApp.Data;

public sealed class BloggingContext(DbContextOptions<BloggingContext> options) : DbContext(options)
{
    public DbSet<Blog> Blogs => Set<Blog>();

    public DbSet<Post> Posts => Set<Post>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Blog>(blog =>
        {
            blog.Property(b => b.Name).HasMaxLength(100);
            blog.HasMany(b => b.Posts).WithOne(p => p.Blog).HasForeignKey(p => p.BlogId);
        });
        modelBuilder.Entity<Post>().Property(p => p.Title).HasMaxLength(200);
    }
}
