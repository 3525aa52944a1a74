# IHttpClientFactory with Microsoft.Extensions.Http.Resilience's standard handler on a named client, used per request
# to call this app itself.
TEMPLATE=web
PACKAGES=(Microsoft.Extensions.Http.Resilience@10.11.0)
REQUESTS=('GET /' 'GET /self')
