"""The voice context's configuration, from `Settings` (web handlers and worker jobs)."""

from __future__ import annotations

from datetime import timedelta

from sahaya.network import domain as network_domain
from sahaya.settings import Settings
from sahaya.voice import domain
from sahaya.voice.services import VoiceConfig


def voice_config(settings: Settings) -> VoiceConfig:
    return VoiceConfig(
        timing=domain.DialTiming(settings.voice_ring_seconds, settings.voice_call_budget_seconds),
        busy=domain.BusyRule(
            settings.voice_busy_calls, timedelta(minutes=settings.voice_busy_window_minutes)
        ),
        miss_limit=settings.voice_miss_limit,
        depth=network_domain.ChainDepth(
            settings.chain_depth_sub_district,
            settings.chain_depth_district,
            settings.chain_depth_state,
        ),
        max_conversation_seconds=settings.voice_max_conversation_seconds,
        thread_window=timedelta(hours=settings.ticket_thread_hours),
        auto_callback=settings.voice_auto_callback,
    )


def callback_policy(settings: Settings) -> domain.CallbackPolicy:
    return domain.CallbackPolicy(
        tries=settings.voice_callback_tries,
        spacing=timedelta(minutes=settings.voice_callback_spacing_minutes),
    )
