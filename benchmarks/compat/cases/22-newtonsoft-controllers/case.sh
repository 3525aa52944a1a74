# The Web API template with controllers, serializing with Newtonsoft.Json (AddControllers().AddNewtonsoftJson()); a
# second controller reads a JSON body (the input formatter).
TEMPLATE=webapi
TEMPLATE_ARGS=(--use-controllers --no-openapi)
PACKAGES=(Microsoft.AspNetCore.Mvc.NewtonsoftJson@10.0.15)
REQUESTS=('GET /WeatherForecast' 'POST /Echo -H "Content-Type: application/json" -d "{\"name\":\"Ada\",\"tags\":[\"a\",\"b\"]}"')
