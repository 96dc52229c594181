"""Shared fixtures: the embedded sample and the real data in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pix2lst.data import sample_scene_path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PIX2LST_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def sample_scene() -> Path:
    """The embedded sample scene folder (always present)."""
    return sample_scene_path()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests using it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Landsat data not found at {SHARED_DATA} (set PIX2LST_SHARED_DATA)")
    return SHARED_DATA


def shared_scene(name: str) -> Path:
    """Path of one folder of ``../shared/data``, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real Landsat scene {name} not found under {SHARED_DATA}")
    return path
