# Dapper over Microsoft.Data.Sqlite: the table created once (in the coordinator), a query and an insert per request.
TEMPLATE=web
PACKAGES=(Dapper@2.1.86 Microsoft.Data.Sqlite@10.0.15)
REQUESTS=('GET /todos' 'POST /todos -H "Content-Type: application/json" -d "{\"title\":\"write the matrix\"}"')
