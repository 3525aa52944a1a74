# IMemoryCache: AddMemoryCache and GetOrCreate with an expiration, holding a value of the app's own type.
TEMPLATE=web
PACKAGES=()
REQUESTS=('GET /' 'GET /cached')
