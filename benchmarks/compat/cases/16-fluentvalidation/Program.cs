using FluentValidation;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

builder.Services.AddValidatorsFromAssemblyContaining<PersonValidator>();

var app = builder.Build();

app.MapPost("/people", async (Person person, IValidator<Person> validator) =>
{
    var result = await validator.ValidateAsync(person);
    if (!result.IsValid)
    {
        return Results.ValidationProblem(result.ToDictionary());
    }

    return Results.Created($"/people/{person.Name}", person);
});

app.Run();

public record Person(string Name, string Email, int Age);

public class PersonValidator : AbstractValidator<Person>
{
    public PersonValidator()
    {
        RuleFor(p => p.Name).NotEmpty().MaximumLength(100);
        RuleFor(p => p.Email).NotEmpty().EmailAddress();
        RuleFor(p => p.Age).InclusiveBetween(0, 150);
    }
}
