namespace RealWorldApp.Data;

public sealed class Post
{
    public int Id { get; set; }

    public required string Title { get; set; }

    public required string Content { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The worker that wrote the post.</summary>
    public int CreatedByWorker { get; set; }

    public int BlogId { get; set; }

    public Blog? Blog { get; set; }
}
