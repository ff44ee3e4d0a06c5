"""Bootstrap of the denials service.

Run it with `claimline run denials` or `faststream run services.denials.main:create_app --factory`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from faststream.asgi import AsgiFastStream

from services.denials.adapters.orm import outbox
from services.denials.app import Rulebook
from services.denials.domain.catalog import load_catalog
from services.denials.domain.classify import OfficialText
from services.denials.domain.ncci import load_mue, load_ptp
from services.denials.domain.routing import load_routing
from services.denials.domain.rulepack import load_rulepack
from services.denials.entrypoints.consumers import register
from services.denials.official import load_official
from services.denials.pricing_adapter import pricer_from
from shared.runtime.broker import make_broker
from shared.runtime.db import make_engine
from shared.runtime.logging import get_logger
from shared.runtime.service import ServiceRuntime, build_asgi
from shared.runtime.settings import Settings, get_settings
from shared.schemas import topics

NAME = "denials"
log = get_logger("claimline.denials")


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or get_settings()
    runtime = ServiceRuntime(
        NAME, settings, make_broker(settings, NAME), make_engine(settings.database_url), outbox
    )
    runtime.topics = [
        settings.topic(t)
        for t in (
            topics.REMIT_LINES,
            topics.DENIALS_DECISIONS,
            topics.CLAIMS_SUBMITTED,
            topics.DENIALS_SCRUBS,
        )
    ]
    rules = load_rules(settings)
    runtime.background.append(lambda stop: refresh_official(runtime, rules, stop))
    register(runtime, rules, lambda: datetime.now(UTC).date())
    return runtime


def load_rules(settings: Settings) -> Rulebook:
    """Routing (and fee schedules) are checked before the service starts: a broken file stops it."""
    routing = load_routing(settings.routing_file) if settings.routing_file else load_routing()
    ptp = load_ptp([settings.ncci_ptp]) if settings.ncci_ptp else None
    mue = load_mue([settings.ncci_mue]) if settings.ncci_mue else None
    pack = (
        load_rulepack(settings.rules_dir, ptp=ptp, mue=mue)
        if settings.rules_dir
        else load_rulepack(ptp=ptp, mue=mue)
    )
    return Rulebook(load_catalog(), routing, pricer_from(settings, routing), pack=pack)


async def refresh_official(runtime: ServiceRuntime, rules: Rulebook, stop: asyncio.Event) -> None:
    """Pick up an official code list imported while the service runs (every minute)."""
    while not stop.is_set():
        try:
            loaded = await load_official(runtime.engine)
            rules.official = OfficialText({key: (c.description, c.stop_date) for key, c in loaded.items()})
        except Exception as exc:
            log.warning("could not load the official code lists", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=60)


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    return build_asgi(bootstrap(settings))
