"""The load benchmark's peer: the same two endpoints as benchmarks/BenchApp, as a plain ASGI app for
gunicorn -k uvicorn.workers.UvicornWorker."""
import json

PLAINTEXT = b"Hello, World!"
JSON = json.dumps({"message": "Hello, World!"}).encode()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body, content_type = (JSON, b"application/json") if scope["path"] == "/json" else (PLAINTEXT, b"text/plain")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
