using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);

var key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(builder.Configuration["Jwt:Key"]!));

builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
    .AddJwtBearer(options =>
    {
        options.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = "compat",
            ValidAudience = "compat",
            IssuerSigningKey = key,
        };
    });
builder.Services.AddAuthorization();

var app = builder.Build();

app.UseAuthentication();
app.UseAuthorization();

app.MapGet("/", () => "Hello World!");

app.MapGet("/token", () => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
{
    Issuer = "compat",
    Audience = "compat",
    Subject = new ClaimsIdentity([new Claim(ClaimTypes.Name, "ada")]),
    Expires = DateTime.UtcNow.AddMinutes(5),
    SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
}));

app.MapGet("/secure", (ClaimsPrincipal user) => $"Hello {user.Identity?.Name}").RequireAuthorization();

app.Run();
