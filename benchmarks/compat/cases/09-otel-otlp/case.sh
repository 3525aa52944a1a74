# OpenTelemetry tracing with ASP.NET Core and HttpClient instrumentation, exported with OTLP to a loopback port where
# nothing listens (OTEL_EXPORTER_OTLP_ENDPOINT, as the exporter's documentation configures it).
TEMPLATE=web
PACKAGES=(OpenTelemetry.Extensions.Hosting@1.20.1 OpenTelemetry.Instrumentation.AspNetCore@1.20.2
          OpenTelemetry.Instrumentation.Http@1.20.2 OpenTelemetry.Exporter.OpenTelemetryProtocol@1.20.1)
REQUESTS=('GET /' 'GET /self')
RUN_ENV=(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{DEAD_PORT})
