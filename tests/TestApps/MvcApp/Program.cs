// An app as `dotnet new mvc` and `dotnet new webapi --use-controllers` make it, plus the one line.
var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);
builder.Services.AddControllersWithViews();

var app = builder.Build();

app.UseStaticFiles();
app.UseRouting();
app.MapControllers();
app.MapControllerRoute(name: "default", pattern: "{controller=Home}/{action=Index}/{id?}");

app.Run();
