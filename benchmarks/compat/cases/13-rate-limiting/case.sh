# Rate limiting: AddRateLimiter with a fixed-window policy, UseRateLimiter, RequireRateLimiting on an endpoint
# (3 requests per 10 s per worker, no queue: some requests are rejected with 429, which is expected).
TEMPLATE=web
PACKAGES=()
REQUESTS=('GET /' 'GET /limited' 'GET /limited')
