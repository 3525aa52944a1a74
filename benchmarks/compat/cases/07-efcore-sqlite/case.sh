# EF Core on SQLite: a DbContext registered with AddDbContext, the database created once (in the coordinator), a query
# and a write per request.
TEMPLATE=webapi
TEMPLATE_ARGS=(--no-openapi)
PACKAGES=(Microsoft.EntityFrameworkCore.Sqlite@10.0.15)
REQUESTS=('GET /todos' 'POST /todos -H "Content-Type: application/json" -d "{\"title\":\"write the matrix\"}"')
