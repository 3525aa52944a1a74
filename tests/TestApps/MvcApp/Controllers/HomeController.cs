using Microsoft.AspNetCore.Mvc;
using MvcApp.Models;
using WorkerHosting;

namespace MvcApp.Controllers;

public sealed class HomeController(IWorkerContext worker) : Controller
{
    public IActionResult Index() => View(new HomeViewModel { Slot = worker.Slot, Products = ProductsController.Catalog });
}
