# A BackgroundService ticking on a PeriodicTimer (every 100 ms), registered with AddHostedService; /ticks reads it.
TEMPLATE=web
PACKAGES=()
REQUESTS=('GET /' 'GET /ticks')
