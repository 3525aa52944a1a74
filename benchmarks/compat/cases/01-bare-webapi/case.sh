# The Web API template as generated (without OpenAPI), plus the one line.
TEMPLATE=webapi
TEMPLATE_ARGS=(--no-openapi)
PACKAGES=()
REQUESTS=('GET /weatherforecast')
