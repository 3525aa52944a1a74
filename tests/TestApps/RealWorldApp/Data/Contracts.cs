namespace RealWorldApp.Data;

// What the HTTP API takes and returns (the entities stay inside the app).

public sealed record CreateBlogRequest(string Name);

public sealed record CreatePostRequest(string Title, string Content);

public sealed record BlogDto(int Id, string Name, IReadOnlyList<PostDto> Posts);

public sealed record PostDto(int Id, string Title, string Content, DateTimeOffset CreatedAt, int CreatedByWorker);

public static class DtoMappings
{
    public static BlogDto ToDto(this Blog blog) => new(blog.Id, blog.Name, [.. blog.Posts.OrderBy(p => p.Id).Select(p => p.ToDto())]);

    public static PostDto ToDto(this Post post) => new(post.Id, post.Title, post.Content, post.CreatedAt, post.CreatedByWorker);
}
