# Swashbuckle.AspNetCore as its README sets it up: API explorer, SwaggerGen, the JSON and the UI.
TEMPLATE=webapi
TEMPLATE_ARGS=(--no-openapi)
PACKAGES=(Swashbuckle.AspNetCore@11.0.1)
REQUESTS=('GET /weatherforecast' 'GET /swagger/v1/swagger.json' 'GET /swagger/index.html')
