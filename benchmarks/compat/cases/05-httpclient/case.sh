# IHttpClientFactory alone: a named client (AddHttpClient), used per request to call this app itself.
TEMPLATE=web
PACKAGES=()
REQUESTS=('GET /' 'GET /self')
