using Microsoft.EntityFrameworkCore;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddDbContext<TodoDb>(options =>
    options.UseSqlite(builder.Configuration.GetConnectionString("Todos") ?? "Data Source=todos.db"));

var app = builder.Build();

if (app.Services.GetRequiredService<IWorkerContext>().Role != WorkerRole.Worker)
{
    using var scope = app.Services.CreateScope();
    scope.ServiceProvider.GetRequiredService<TodoDb>().Database.EnsureCreated();
}

app.UseHttpsRedirection();

app.MapGet("/todos", async (TodoDb db) => await db.Todos.OrderBy(t => t.Id).Take(20).ToListAsync());

app.MapPost("/todos", async (Todo todo, TodoDb db) =>
{
    db.Todos.Add(todo);
    await db.SaveChangesAsync();
    return Results.Created($"/todos/{todo.Id}", todo);
});

app.Run();

class Todo
{
    public int Id { get; set; }
    public string? Title { get; set; }
    public bool IsComplete { get; set; }
}

class TodoDb(DbContextOptions<TodoDb> options) : DbContext(options)
{
    public DbSet<Todo> Todos => Set<Todo>();
}
