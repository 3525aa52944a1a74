# 17-redis-cache with StackExchange.Redis 3 referenced beside the cache package (the newest served; 3.x no longer
# depends on Pipelines.Sockets.Unofficial and its dedicated threads). Program.cs is 17-redis-cache's.
TEMPLATE=web
NEEDS=redis
PACKAGES=(Microsoft.Extensions.Caching.StackExchangeRedis@10.0.15 StackExchange.Redis@3.4.35)
REQUESTS=('GET /' 'GET /cached')
RUN_ARGS=(--ConnectionStrings:Redis=127.0.0.1:{REDIS_PORT})
