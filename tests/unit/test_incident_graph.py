"""The state machine drawn from its ASL: every state a box, none overlapping, loops drawn back; and the
incident page: the SVG has every state, the visited path highlighted, and escapes what it shows."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import combinations

import pytest
from readmodel_logs import APPROVAL_ASL, T0, Log

from selfheal.readmodel.graph import Machine, layout, taken_edges
from selfheal.readmodel.page import render
from selfheal.readmodel.records import summary
from selfheal.readmodel.sources import bundled_definition
from selfheal.readmodel.timeline import story, visits_from_log


@pytest.mark.parametrize("definition", [bundled_definition(), APPROVAL_ASL], ids=["shipped", "approval"])
def test_every_state_is_a_box_and_no_two_boxes_overlap(definition: dict) -> None:
    machine = Machine.from_definition(definition)
    drawn = layout(machine)
    assert set(drawn.boxes) == set(definition["States"])
    for a, b in combinations(drawn.boxes.values(), 2):
        apart = a.x + a.width <= b.x or b.x + b.width <= a.x or a.y + a.height <= b.y or b.y + b.height <= a.y
        assert apart, (a.name, b.name)
    for box in drawn.boxes.values():
        assert box.x >= 0 and box.x + box.width <= drawn.width and box.y + box.height <= drawn.height
    start = drawn.boxes[machine.start]
    assert all(start.y <= b.y for b in drawn.boxes.values())  # the start is on top


def test_loops_are_drawn_back_and_catches_are_edges() -> None:
    machine = Machine.from_definition(bundled_definition())
    routes = {(r.edge.source, r.edge.target): r for r in layout(machine).routes}
    assert routes[("Fix Held?", "Propose")].back and routes[("Wait For Job Run", "Validate")].back is False
    assert routes[("Fix Held?", "Wait For Job Run")].back
    assert routes[("Diagnose", "Escalate")].edge.kind == "catch"
    assert routes[("Already Handled?", "Duplicate Ignored")].edge.label == "duplicate = true"
    drawn = layout(machine)
    assert len(drawn.routes) == len(machine.edges)


def test_a_definition_without_states_is_refused() -> None:
    with pytest.raises(ValueError, match="no States"):
        Machine.from_definition({"StartAt": "x"})


def test_a_self_loop_is_drawn() -> None:
    machine = Machine.from_definition(
        {
            "StartAt": "Poll",
            "States": {
                "Poll": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.x", "BooleanEquals": True, "Next": "Poll"}],
                    "Default": "Done",
                },
                "Done": {"Type": "Succeed"},
            },
        }
    )
    routes = layout(machine).routes
    assert any(r.edge.source == r.edge.target == "Poll" and r.back for r in routes)


def _page(log: Log, definition: dict) -> tuple[str, tuple[str, ...]]:
    machine = Machine.from_definition(definition)
    incident = log.log()
    told = story(incident, machine, None, closed=True)
    head = {**summary(incident, T0 + timedelta(hours=3)), "links": {}, "answer_with": {}}
    return render(head, incident, machine, told, visits_from_log(incident, machine)), told.path


def test_the_page_draws_every_state_and_highlights_the_path_taken() -> None:
    log = Log().opened().proposed("rollback").asked(5).answered(3605, "approve")
    log.ran("rollback", 3610, fixed=True).learned(3700)
    html, path = _page(log, APPROVAL_ASL)
    states = re.findall(r'<g class="state type-(\w+)( visited)?" data-state="([^"]+)"', html)
    assert {name for _, _, name in states} == set(APPROVAL_ASL["States"])
    assert {name for _, visited, name in states if visited} == set(path)
    assert {name for _, visited, name in states if not visited} == {"Escalate"}
    taken = set(re.findall(r'class="edge kind-\w+ taken" data-from="([^"]+)" data-to="([^"]+)"', html))
    machine = Machine.from_definition(APPROVAL_ASL)
    assert taken == taken_edges(machine, path) and ("Await Approval", "Approved?") in taken
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "a human&#39;s answer" in html  # the wait, in the waits table


def test_the_page_escapes_what_came_from_the_job() -> None:
    log = Log().opened(job='<script>alert(1)</script>"&').proposed("retry").ran("retry", 10, fixed=True)
    html, _ = _page(log, bundled_definition())
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
