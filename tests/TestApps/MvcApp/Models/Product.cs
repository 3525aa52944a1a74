namespace MvcApp.Models;

public sealed record Product(int Id, string Name, decimal Price);

public sealed class HomeViewModel
{
    public required int Slot { get; init; }

    public required IReadOnlyList<Product> Products { get; init; }
}
