// The same app, served by plain Kestrel (Bench:Workers=0) or by UseWorkers(n): only that line differs.
var builder = WebApplication.CreateBuilder(args);
var workers = builder.Configuration.GetValue("Bench:Workers", 0);
if (workers > 0)
{
    builder.UseWorkers(workers);
}

var app = builder.Build();
app.MapGet("/plaintext", () => "Hello, World!");
app.MapGet("/json", () => new Message("Hello, World!"));
app.Run();

internal sealed record Message(string message);
