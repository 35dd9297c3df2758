"""A route's unexpected error is a 500 problem+json that keeps the client's keep-alive connection
(uvicorn closes the connection of any request whose app raised, and Starlette's own handler
re-raises). A real uvicorn server, a plain socket: two requests on one connection."""
import asyncio
import json
import socket

import uvicorn
from fastapi import FastAPI

from kam_shared.devstack import free_port
from kam_shared.errors import install_error_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("a bug")

    return app


def _read_response(conn: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += conn.recv(65536)
    return head, body


async def test_a_500_is_problem_json_and_the_connection_stays_open():
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_app(), host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)

        def two_requests_on_one_connection():
            with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                answers = []
                for _ in range(2):
                    conn.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
                    answers.append(_read_response(conn))
                return answers

        answers = await asyncio.to_thread(two_requests_on_one_connection)
        for head, body in answers:
            assert head.startswith(b"HTTP/1.1 500"), head
            assert b"application/problem+json" in head and b"connection: close" not in head.lower()
            assert json.loads(body)["title"] == "Internal error"
    finally:
        server.should_exit = True
        await serving
