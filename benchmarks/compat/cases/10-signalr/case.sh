# SignalR: a hub mapped with MapHub; the negotiate request (what every client sends first) runs the hub's endpoint.
TEMPLATE=web
PACKAGES=()
REQUESTS=('GET /' 'POST /chathub/negotiate?negotiateVersion=1')
