using Microsoft.AspNetCore.Mvc;

namespace CompatApp.Controllers;

[ApiController]
[Route("[controller]")]
public class EchoController : ControllerBase
{
    [HttpPost]
    public ActionResult<EchoMessage> Post(EchoMessage message) => message with { ReceivedAt = DateTime.UtcNow };
}

public record EchoMessage(string Name, List<string> Tags, DateTime? ReceivedAt);
