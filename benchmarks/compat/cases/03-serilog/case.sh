# Serilog.AspNetCore as its README sets it up: a bootstrap logger, AddSerilog reading configuration and services,
# console sink, request logging. WorkerHosting's Debug level is given the Serilog way.
TEMPLATE=webapi
TEMPLATE_ARGS=(--no-openapi)
PACKAGES=(Serilog.AspNetCore@10.0.0)
REQUESTS=('GET /weatherforecast')
LOG_ARGS=(--Serilog:MinimumLevel:Default=Information --Serilog:MinimumLevel:Override:WorkerHosting=Debug
          --Serilog:MinimumLevel:Override:Microsoft.AspNetCore=Warning)
