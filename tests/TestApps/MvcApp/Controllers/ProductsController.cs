using Microsoft.AspNetCore.Mvc;
using MvcApp.Models;

namespace MvcApp.Controllers;

[ApiController]
[Route("api/[controller]")]
public sealed class ProductsController : ControllerBase
{
    internal static readonly Product[] Catalog = [new(1, "Kettle", 24.50m), new(2, "Teapot", 18.00m)];

    [HttpGet]
    public IEnumerable<Product> Get() => Catalog;

    [HttpGet("{id:int}")]
    public ActionResult<Product> Get(int id) => Catalog.FirstOrDefault(p => p.Id == id) is { } product ? product : NotFound();

    [HttpPost]
    public ActionResult<Product> Post(Product product) => CreatedAtAction(nameof(Get), new { id = product.Id }, product);
}
