namespace MvcApp.Models;

public sealed record Product(int Id, string Name, decimal Price);

public sealed class HomeViewModel
{
    public required int WorkerId { get; init; }

    public required IReadOnlyList<Product> Products { get; init; }
}
