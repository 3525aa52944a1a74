# IDistributedCache on Redis (Microsoft.Extensions.Caching.StackExchangeRedis), against a redis-server of the
# script's own on 127.0.0.1 (Debian's package; the case is skipped where it cannot be installed).
TEMPLATE=web
NEEDS=redis
PACKAGES=(Microsoft.Extensions.Caching.StackExchangeRedis@10.0.15)
REQUESTS=('GET /' 'GET /cached')
RUN_ARGS=(--ConnectionStrings:Redis=127.0.0.1:{REDIS_PORT})
