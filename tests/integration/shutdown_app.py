"""A service built like the real ones (`make_broker`, `ServiceRuntime`, `build_asgi`) whose one handler
takes a while, for `test_graceful_shutdown.py` to stop with SIGTERM while a message is in flight.

Run by the test as `uvicorn --factory tests.integration.shutdown_app:create_app`. Environment:
SHUTDOWN_TEST_TOPIC, SHUTDOWN_TEST_EFFECTS (a folder) and SHUTDOWN_TEST_HANDLER_SECONDS.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from faststream.asgi import AsgiFastStream

from shared.runtime.broker import make_broker, subscriber_options
from shared.runtime.db import make_engine
from shared.runtime.logging import configure_logging
from shared.runtime.service import ServiceRuntime, build_asgi
from shared.runtime.settings import Settings

NAME = "shutdown-test"


def create_app() -> AsgiFastStream:
    settings = Settings()
    configure_logging(NAME)
    topic = os.environ["SHUTDOWN_TEST_TOPIC"]
    effects = Path(os.environ["SHUTDOWN_TEST_EFFECTS"])
    seconds = float(os.environ["SHUTDOWN_TEST_HANDLER_SECONDS"])
    runtime = ServiceRuntime(NAME, settings, make_broker(settings, NAME), make_engine(settings.database_url))
    runtime.topics = [topic]

    @runtime.broker.subscriber(topic, **subscriber_options(NAME, "slow", settings))  # type: ignore[untyped-decorator]
    async def on_event(body: dict[str, Any]) -> None:
        (effects / f"started-{body['n']}").touch()
        await asyncio.sleep(seconds)
        with (effects / "applied").open("a") as out:  # a few bytes, in a test
            out.write(f"{body['n']}\n")

    return build_asgi(runtime)
