# Output caching: AddOutputCache, UseOutputCache, and an endpoint with CacheOutput.
TEMPLATE=web
PACKAGES=()
REQUESTS=('GET /' 'GET /cached')
