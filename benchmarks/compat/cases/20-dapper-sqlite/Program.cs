using Dapper;
using Microsoft.Data.Sqlite;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

var connectionString = builder.Configuration.GetConnectionString("Todos") ?? "Data Source=todos.db";

var app = builder.Build();

if (app.Services.GetRequiredService<IWorkerContext>().Role != WorkerRole.Worker)
{
    using var connection = new SqliteConnection(connectionString);
    connection.Execute("CREATE TABLE IF NOT EXISTS Todos (Id INTEGER PRIMARY KEY AUTOINCREMENT, Title TEXT NOT NULL, IsComplete INTEGER NOT NULL DEFAULT 0)");
}

app.MapGet("/todos", async () =>
{
    await using var connection = new SqliteConnection(connectionString);
    return await connection.QueryAsync<Todo>("SELECT Id, Title, IsComplete FROM Todos ORDER BY Id LIMIT 20");
});

app.MapPost("/todos", async (NewTodo todo) =>
{
    await using var connection = new SqliteConnection(connectionString);
    var id = await connection.ExecuteScalarAsync<long>(
        "INSERT INTO Todos (Title) VALUES (@Title); SELECT last_insert_rowid();", todo);
    return Results.Created($"/todos/{id}", new Todo { Id = id, Title = todo.Title });
});

app.Run();

record NewTodo(string Title);

class Todo
{
    public long Id { get; set; }
    public string Title { get; set; } = "";
    public bool IsComplete { get; set; }
}
