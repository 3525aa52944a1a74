# The Web API template with its OpenAPI document (Microsoft.AspNetCore.OpenApi), served in every environment.
TEMPLATE=webapi
PACKAGES=(Microsoft.AspNetCore.OpenApi@10.0.15)
REQUESTS=('GET /weatherforecast' 'GET /openapi/v1.json')
