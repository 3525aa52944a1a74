# Hangfire with in-memory storage (Hangfire.AspNetCore, Hangfire.InMemory): AddHangfire, AddHangfireServer, a job
# enqueued per request (the server runs it), and the dashboard.
TEMPLATE=web
PACKAGES=(Hangfire.AspNetCore@1.8.25 Hangfire.InMemory@1.0.0)
REQUESTS=('GET /' 'POST /jobs' 'GET /hangfire')
