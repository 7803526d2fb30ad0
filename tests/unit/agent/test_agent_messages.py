"""The loop's inbox: typed, frozen messages, and what each engine event becomes."""

from __future__ import annotations

import dataclasses

import pytest

from podplay.node.agent.engine import EngineView, _news
from podplay.node.agent.messages import ActionsDone, EngineChanged, ManifestsChanged, ProbeResult
from podplay.node.agent.observed import L_POD


def container_event(action: str, cid: str = "c1", podplay: bool = True) -> dict:
    attrs = {L_POD: "web-1"} if podplay else {"name": "other"}
    return {"Type": "container", "Action": action, "Actor": {"ID": cid, "Attributes": attrs}}


@pytest.mark.parametrize(
    ("event", "news"),
    [
        (container_event("die"), EngineChanged(images=False, died="c1")),
        (container_event("oom"), EngineChanged(images=False, died="c1")),
        (container_event("start"), EngineChanged(images=False)),
        (container_event("destroy"), EngineChanged(images=False)),
        (container_event("exec_start: sh -c true"), None),  # exec probes: not news
        (container_event("create"), None),  # the agent's own, followed by its refresh
        (container_event("die", podplay=False), None),  # not a podplay container
        ({"Type": "image", "Action": "load"}, EngineChanged(images=True)),
        ({"Type": "network", "Action": "create"}, EngineChanged(images=True)),
        ({"Type": "network", "Action": "connect"}, None),  # every sandbox start
    ],
)
def test_engine_events_become_messages(event: dict, news: EngineChanged | None) -> None:
    assert _news(event) == news


def test_messages_are_frozen_values() -> None:
    done = ActionsDone(("default", "web-1"), ((("u1", "web"), 2),), ("StartError", "boom"))
    assert done == ActionsDone(("default", "web-1"), ((("u1", "web"), 2),), ("StartError", "boom"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        done.error = None  # type: ignore[misc]
    assert ManifestsChanged() == ManifestsChanged()
    assert ProbeResult("c1", "readiness", None, True, "ok") != ProbeResult(  # type: ignore[arg-type]
        "c1",
        "readiness",
        None,
        False,
        "ok",  # type: ignore[arg-type]
    )


class NoRuntime:
    pass


def test_engine_news_marks_what_to_read_again() -> None:
    view = EngineView(NoRuntime(), "podplay", 30.0, lambda: 0.0)  # type: ignore[arg-type]
    view.dirty = view.dirty_images = False
    view.changed(EngineChanged(images=False, died="c9"))
    assert view.dirty and not view.dirty_images and view._fresh_ids == {"c9"}
    view.changed(EngineChanged(images=True))
    assert view.dirty_images
