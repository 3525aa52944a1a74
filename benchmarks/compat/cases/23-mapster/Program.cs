using Mapster;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

TypeAdapterConfig<Person, PersonDto>.NewConfig()
    .Map(dest => dest.FullName, src => $"{src.FirstName} {src.LastName}");

var app = builder.Build();

app.MapGet("/", () => "Hello World!");
app.MapGet("/people/{id:int}", (int id) =>
    new Person(id, "Ada", "Lovelace", new DateOnly(1815, 12, 10)).Adapt<PersonDto>());

app.Run();

public record Person(int Id, string FirstName, string LastName, DateOnly BirthDate);

public class PersonDto
{
    public int Id { get; set; }
    public string FullName { get; set; } = "";
    public DateOnly BirthDate { get; set; }
}
