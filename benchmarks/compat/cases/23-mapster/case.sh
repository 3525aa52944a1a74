# Mapster (the registry's listing advises it over AutoMapper 14, which has reported security flaws; 15 and later need
# a paid licence): a mapping configured once in TypeAdapterConfig, Adapt per request.
TEMPLATE=web
PACKAGES=(Mapster@10.0.14)
REQUESTS=('GET /' 'GET /people/1')
