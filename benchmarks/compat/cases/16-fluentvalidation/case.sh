# FluentValidation with its DI extensions: validators registered from the assembly, one injected per request to
# validate a POST body (a valid and an invalid body: 400 with the errors is expected for the second).
TEMPLATE=web
PACKAGES=(FluentValidation@12.2.0 FluentValidation.DependencyInjectionExtensions@12.2.0)
REQUESTS=('POST /people -H "Content-Type: application/json" -d "{\"name\":\"Ada\",\"email\":\"ada@example.com\",\"age\":36}"'
          'POST /people -H "Content-Type: application/json" -d "{\"name\":\"\",\"email\":\"nope\",\"age\":-1}"')
