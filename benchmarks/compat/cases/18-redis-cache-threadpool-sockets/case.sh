# 17-redis-cache with the workaround for its leak: StackExchange.Redis 2.x (2.7.27 comes with the cache package) runs
# its sockets on SocketManager.Shared, a static pool of 10 dedicated threads (Pipelines.Sockets.Unofficial's
# DedicatedThreadPoolPipeScheduler) that never ends, so the worker's code stays on their stacks. Setting
# ConfigurationOptions.SocketManager = SocketManager.ThreadPool uses the .NET thread pool instead.
TEMPLATE=web
NEEDS=redis
PACKAGES=(Microsoft.Extensions.Caching.StackExchangeRedis@10.0.15)
REQUESTS=('GET /' 'GET /cached')
RUN_ARGS=(--ConnectionStrings:Redis=127.0.0.1:{REDIS_PORT})
