"""The real Conektor app served by uvicorn on a loopback port, in a thread."""

from __future__ import annotations

import threading
import time

import uvicorn

from api_service.main import create_app
from api_service.settings import ApiSettings
from wind_stack.net import free_port


class ApiServer:
    """The real Conektor app served by uvicorn on a loopback port, in a thread."""

    def __init__(self, db_url: str, **settings: object):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(ApiSettings(WIND_API_DB_URL=db_url, **settings))
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", server_header=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
