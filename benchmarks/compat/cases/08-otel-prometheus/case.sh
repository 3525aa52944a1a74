# OpenTelemetry metrics with ASP.NET Core and HttpClient instrumentation, exported for Prometheus
# (MapPrometheusScrapingEndpoint). /self makes an outgoing request so the HttpClient instrumentation runs.
TEMPLATE=web
PACKAGES=(OpenTelemetry.Extensions.Hosting@1.20.1 OpenTelemetry.Instrumentation.AspNetCore@1.20.2
          OpenTelemetry.Instrumentation.Http@1.20.2 OpenTelemetry.Exporter.Prometheus.AspNetCore@1.20.1-beta.1)
REQUESTS=('GET /' 'GET /self' 'GET /metrics')
