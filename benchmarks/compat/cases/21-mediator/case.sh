# Mediator (Mediator.SourceGenerator: MediatR's licence-free, source-generated counterpart; MediatR itself is served
# only as 5.1.0 here, 12 misses a dependency, 13 and later need a paid licence): AddMediator, a request handler and a
# notification handler, sent per request.
TEMPLATE=web
PACKAGES=(Mediator.SourceGenerator@3.0.2 Mediator.Abstractions@3.0.2)
REQUESTS=('GET /' 'GET /ping/abc')
