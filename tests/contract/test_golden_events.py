"""Every event version and intent type ever published stays decodable, field for field.

Each file under ``golden/`` is one version's full shape (every field set). The test
decodes it through the real codec (upcasters included) and checks that every field
of the file survives into the decoded value unchanged: a removed, renamed or retyped
field fails here, which is the cue for a new tag plus an upcaster. New fields with
defaults pass. A new event tag or intent type without a golden file fails too, so
nothing is published whose shape is not pinned (``python -m tests.contract.make_golden``).
"""

from __future__ import annotations

import json

import msgspec
import pytest

from netledger.libs.events import codec
from netledger.libs.events.envelope import ALL_EVENTS

from .shapes import GOLDEN, INTENTS, event_tag

EVENT_FILES = sorted((GOLDEN / "events").glob("*.json"))
INTENT_FILES = sorted((GOLDEN / "intents").glob("*.json"))


def _subset(golden, decoded, where: str = "") -> None:
    """Every key/value of ``golden`` is in ``decoded`` (lists element-wise)."""
    if isinstance(golden, dict):
        assert isinstance(decoded, dict), where
        for k, v in golden.items():
            assert k in decoded, f"field {where}.{k} is gone"
            _subset(v, decoded[k], f"{where}.{k}")
    elif isinstance(golden, list):
        assert isinstance(decoded, list) and len(decoded) == len(golden), where
        for i, (g, d) in enumerate(zip(golden, decoded)):
            _subset(g, d, f"{where}[{i}]")
    else:
        assert decoded == golden, f"{where}: {golden!r} reads back as {decoded!r}"


def test_every_event_tag_has_a_golden_file():
    have = {p.stem for p in EVENT_FILES}
    missing = sorted(event_tag(c) for c in ALL_EVENTS if event_tag(c) not in have)
    assert not missing, f"no golden file for {missing}: run python -m tests.contract.make_golden"


def test_every_intent_type_has_a_golden_file():
    assert sorted(INTENTS) == sorted(p.stem for p in INTENT_FILES if "." not in p.stem)


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.stem)
def test_event_golden_file_decodes(path):
    raw = path.read_bytes()
    env = codec.decode(raw)
    golden = json.loads(raw)
    if golden["event"]["type"] in codec.UPCASTERS:      # an old version: it reads as the newest
        del golden["event"]
    else:
        assert event_tag(type(env.event)) == golden["event"]["type"]
    _subset(golden, _plain(env))


@pytest.mark.parametrize("path", INTENT_FILES, ids=lambda p: p.stem)
def test_intent_golden_file_decodes(path):
    cls = INTENTS[path.stem.split(".")[0]]
    raw = path.read_bytes()
    _subset(json.loads(raw), _plain(msgspec.json.decode(raw, type=cls)))


def _plain(value):
    """What a reader of the bytes would see (tuples and sets as JSON arrays)."""
    return json.loads(msgspec.json.encode(value))
