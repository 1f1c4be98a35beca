"""Voice jobs: the callback sweep, which places due callbacks through the worker's call
placer (Exotel's `Calls/connect`) and counts overdue reports as failed tries; and the sweep
that settles busy-caller rules a dead request left pending."""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate

from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import get_settings
from sahaya.voice import callbacks, outcomes
from sahaya.voice.config import callback_policy, voice_config
from sahaya.voice.ports import CallPlacer

BATCH = 10


async def place_callbacks(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    placer: CallPlacer | None = context.additional_context.get("call_placer")
    if placer is None:
        return
    settings = get_settings()
    public_url = settings.voice_public_url or f"http://{settings.host}:{settings.port}"
    while True:  # small batches, each its own transaction
        async with UnitOfWork(database) as uow:
            sweep = await callbacks.place_due(
                uow=uow,
                placer=placer,
                now=datetime.now(UTC),
                config=voice_config(settings),
                policy=callback_policy(settings),
                public_url=public_url,
                secret=settings.secret_key.get_secret_value(),
                limit=BATCH,
            )
            await uow.commit()
        if sweep.placed + sweep.waiting + sweep.retried + sweep.failed < BATCH:
            return


async def resume_busy_rules(context: procrastinate.JobContext, timestamp: int) -> None:
    database: Database = context.additional_context["database"]
    config = voice_config(get_settings())
    while True:
        done = await outcomes.resume_busy_rules(
            database=database, now=datetime.now(UTC), config=config, limit=BATCH
        )
        if done < BATCH:
            return


def register(app: procrastinate.App) -> None:
    task = app.task(
        name="voice.place-callbacks", pass_context=True, queueing_lock="voice.place-callbacks"
    )(place_callbacks)
    app.periodic(cron="* * * * * */5", periodic_id="voice-callbacks")(task)
    resume = app.task(
        name="voice.resume-busy-rules", pass_context=True, queueing_lock="voice.resume-busy-rules"
    )(resume_busy_rules)
    app.periodic(cron="* * * * * */15", periodic_id="voice-busy-rules")(resume)
