"""Pure: which stream events a Watch delivers, and as which Change message."""

from __future__ import annotations

import msgspec

from netledger.libs.events.envelope import Envelope


class WatchFilter(msgspec.Struct, kw_only=True):
    """kinds (empty = all) and project ("" = all). ``owners`` remembers each aggregate's
    project from its creation fact, since updates and deletes do not carry it."""

    kinds: frozenset[str] = frozenset()
    project: str = ""
    owners: dict[str, str] = {}

    def project_of(self, env: Envelope) -> str:
        project = getattr(env.event, "project_id", None)
        if isinstance(project, str) and project:
            self.owners[env.aggregate_id] = project
            return project
        return self.owners.get(env.aggregate_id) or env.actor.project_id

    def admits(self, env: Envelope) -> tuple[bool, str]:
        """(deliver?, the change's project). Every event is seen (to learn owners)."""
        project = self.project_of(env)
        if env.kind == "claim" or (self.kinds and env.kind not in self.kinds):
            return False, project
        return (not self.project or project == self.project), project


def change_fields(env: Envelope, seq: int, project: str) -> dict:
    """The Change message's fields (the event as plain JSON-able values)."""
    event = msgspec.to_builtins(env.event)
    return {"seq": seq, "kind": env.kind, "id": env.aggregate_id, "type": str(event.get("type", "")),
            "project_id": project, "time": env.time, "request_id": env.request_id, "event": event}
