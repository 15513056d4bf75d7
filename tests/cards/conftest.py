"""Fixtures of the card tests: the demo profile, a virtual card, pcscd with vpcd."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.cards.simulator import CardProfile, VirtualCard
from tests.support.pcscd import pcscd  # noqa: F401  (session fixture)

DEMO_PROFILE = Path(__file__).resolve().parents[2] / "resources" / "cards" / "demo_card.json"


@pytest.fixture
def profile_dict() -> dict[str, Any]:
    return json.loads(DEMO_PROFILE.read_text(encoding="utf-8"))


@pytest.fixture
def profile(profile_dict: dict[str, Any]) -> CardProfile:
    return CardProfile.from_dict(profile_dict)


@pytest.fixture
def card(profile: CardProfile) -> VirtualCard:
    return VirtualCard(profile)
