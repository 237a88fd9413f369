"""Write a golden file for every event version and intent type that has none yet.

Run once when a new event tag or intent type is added (``python -m
tests.contract.make_golden``); existing files are never rewritten: they are the
shapes that must stay decodable forever.
"""

from __future__ import annotations

import pathlib

from netledger.libs.events.envelope import ALL_EVENTS, Actor, Envelope

from .samples import sample, to_json
from .shapes import GOLDEN, INTENTS, event_tag


def main() -> None:
    for cls in ALL_EVENTS:
        path = GOLDEN / "events" / f"{event_tag(cls)}.json"
        if not path.exists():
            env = Envelope(id="00000000-0000-4000-8000-000000000001", kind="sample", aggregate_id="agg-1",
                           request_id="req-1", actor=Actor(user_id="u", project_id="p", is_admin=True),
                           time="2026-01-01T00:00:00Z", causation_id="cause-1", event=sample(cls))
            path.write_bytes(to_json(env))
            print("wrote", path)
    for name, cls in INTENTS.items():
        path = GOLDEN / "intents" / f"{name}.json"
        if not path.exists():
            path.write_bytes(to_json(sample(cls)))
            print("wrote", path)


if __name__ == "__main__":
    pathlib.Path(GOLDEN).mkdir(exist_ok=True)
    main()
