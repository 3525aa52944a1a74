using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

// Add services to the container.
// Learn more about configuring OpenAPI at https://aka.ms/aspnet/openapi
builder.Services.AddOpenApi();
builder.Services.AddSingleton<IWeatherForecaster, WeatherForecaster>();

var app = builder.Build();

// Configure the HTTP request pipeline.
if (app.Environment.IsDevelopment())
{
    app.MapOpenApi();
}

app.UseHttpsRedirection();

app.MapGet("/weatherforecast", (IWeatherForecaster forecaster) => forecaster.Forecast(5))
.WithName("GetWeatherForecast");

// Which worker served the request (its slot and generation): what the tests look at.
app.MapGet("/worker", (IWorkerContext worker) => new { worker.Slot, worker.Generation });

app.Run();

public record WeatherForecast(DateOnly Date, int TemperatureC, string? Summary)
{
    public int TemperatureF => 32 + (int)(TemperatureC / 0.5556);
}

/// <summary>Forecasts the weather; tests replace it with a fake.</summary>
public interface IWeatherForecaster
{
    WeatherForecast[] Forecast(int days);
}

public sealed class WeatherForecaster : IWeatherForecaster
{
    private static readonly string[] _summaries =
    [
        "Freezing", "Bracing", "Chilly", "Cool", "Mild", "Warm", "Balmy", "Hot", "Sweltering", "Scorching"
    ];

    public WeatherForecast[] Forecast(int days) => Enumerable.Range(1, days).Select(index =>
        new WeatherForecast
        (
            DateOnly.FromDateTime(DateTime.Now.AddDays(index)),
            Random.Shared.Next(-20, 55),
            _summaries[Random.Shared.Next(_summaries.Length)]
        ))
        .ToArray();
}
