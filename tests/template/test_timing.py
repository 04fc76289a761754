"""The longest an incident can take, in seconds and in history events, at the template's timing bounds.

Every timing parameter has a MaxValue. At all of them together (the worst case an operator can deploy),
an execution must still end before the state machine's TimeoutSeconds, so that "No Human Answer" and
Learn always run, and within Step Functions' 25,000-event history limit, past which the execution fails.

The costs are read from the ASL, not restated: each state's events from its type (a Lambda task is
entered, scheduled, started, succeeded, exited; each retry adds scheduled, started, failed), its waits
from the parameter behind its SecondsPath / TimeoutSecondsPath, and the loops from the transitions:

    worst = start .. Propose
          + polls x (each poll loop before Propose)      e.g. waiting for a run a DQ result came early for
          + attempts x (Propose .. Propose)             the attempt loop, one poll included
          + attempts x (polls - 1) x (each poll loop after Propose)
          + Propose .. end (the last attempt, then Escalate, the human's answer and Learn)
          + attempts x holds x (Storm Hold .. Storm Hold)   storm control holding each attempt

A poll loop is the cycle through a Wait state whose length is PollSeconds, not through Propose. The hold
loop (Storm Hold, SafetyGate, Gate Decision) is bounded by the storm settings (hold_seconds, and
max_hold_seconds per attempt), which live in the settings parameter, not the template: at the template's
defaults the model takes the storm defaults, at its maxima the longest hold the settings accept
(``domain/storm.py``: MAX_HOLD_SECONDS in at most MAX_HOLD_LOOKS looks). A held attempt's Back Off is counted
in full although SafetyGate shortens it by the time held (an upper bound).

``Await Approval`` is entered at most once per execution (``domain/decisions.review`` asks for one approval
per incident; tests/steps/test_approval_steps.py): the paths above avoid it, and one approval (Escalate, the
wait at ApprovalTimeoutSeconds, Check Answer) is added once.

Events count every retry the ASL allows (an upper bound). Seconds count every wait at its bound, and
TASK_SECONDS per task state: Lambda run time is no parameter (the handlers make a few AWS calls each;
Diagnose's log reads stop at LOG_MAX_SECONDS, 10 s), and retries, which Step Functions makes only on
service errors and lost races, are left to the margin that remains (docs/operations.md, worst case).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from selfheal_core.domain.storm import MAX_HOLD_LOOKS, MAX_HOLD_SECONDS, StormSettings

HISTORY_LIMIT = 25_000
TASK_SECONDS = 10
# The Wait and waitForTaskToken lengths the ASL reads from its input, and the parameter that bounds each.
SECONDS_PATHS = {
    "$.gate.wait_seconds": "BackoffSeconds",  # doubled on each attempt (domain/decisions.py review)
    "$.execution.poll_seconds": "PollSeconds",
    "$.poll_seconds": "PollSeconds",  # Diagnose's, while the failed run is still going
    "$.timeout_seconds": "HumanTimeoutSeconds",
    "$.execution.wait_seconds": "RunWaitSeconds",  # the wait for a run's end event (Execute caps it)
}
ATTEMPT_STATE = "Propose"
APPROVAL_STATE = "Await Approval"
APPROVAL_PATH = ("Escalate", "Human Decision Needed?", APPROVAL_STATE, "Check Answer", "Approved?")
# Storm control's hold loop (Storm Hold, SafetyGate, Gate Decision): SafetyGate holds an attempt and looks
# again after the storm settings' hold_seconds until the hold passes their max_hold_seconds, then lets the
# attempt go on or escalates it (steps/storm_control.py).
STORM_HOLD_STATE = "Storm Hold"
STORM_SETTINGS = {
    "Default": StormSettings(),
    "MaxValue": StormSettings.from_data(
        {"max_hold_seconds": MAX_HOLD_SECONDS, "hold_seconds": math.ceil(MAX_HOLD_SECONDS / MAX_HOLD_LOOKS)}
    ),
}
STORM_HOLD = "storm.hold_seconds"  # the pseudo-parameter of the Storm Hold wait
STORM_MAX_HOLD = "storm.max_hold_seconds"
# A wait whose bound depends on the state rather than on the path it reads.
STATE_WAITS = {APPROVAL_STATE: "ApprovalTimeoutSeconds", STORM_HOLD_STATE: STORM_HOLD}
TIMING_PARAMETERS = (
    "ApprovalTimeoutSeconds",
    "MaxAttempts",
    "BackoffSeconds",
    "PollSeconds",
    "MaxPolls",
    "HumanTimeoutSeconds",
    "SettingsMaxAgeSeconds",
    "DecisionSeconds",
    "RunWaitSeconds",
)


@dataclass(frozen=True)
class Cost:
    events: int = 0
    seconds: float = 0.0  # fixed waits and task time
    backoffs: int = 0  # backoff waits, whose length depends on the attempt

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.events + other.events, self.seconds + other.seconds, self.backoffs + other.backoffs)


def _retries(state: dict[str, Any]) -> int:
    """Retries of a task: every retrier's MaxAttempts (they count separately), an upper bound."""
    return sum(retrier.get("MaxAttempts", 3) for retrier in state.get("Retry", []))


def _retried_after_timeout(state: dict[str, Any]) -> bool:
    timeouts = {"States.ALL", "States.Timeout", "States.HeartbeatTimeout"}
    return any(timeouts & set(retrier["ErrorEquals"]) for retrier in state.get("Retry", []))


def _wait_seconds(path: str, values: dict[str, float]) -> tuple[float, int]:
    assert path in SECONDS_PATHS, f"{path} is not bounded by any parameter: add it to SECONDS_PATHS"
    if SECONDS_PATHS[path] == "BackoffSeconds":
        return 0.0, 1
    return values[SECONDS_PATHS[path]], 0


def state_cost(state: dict[str, Any], values: dict[str, float], name: str = "") -> Cost:
    kind = state["Type"]
    if kind == "Task":
        callback = state["Resource"].endswith(".waitForTaskToken")
        # entered, scheduled, started, [submitted,] succeeded or timed out, exited; a retry adds 3 more
        events = (6 if callback else 5) + 3 * _retries(state)
        seconds = float(TASK_SECONDS)
        if callback:
            # Waited once: a retry would wait again only if a timeout were retried (then say so here).
            assert not _retried_after_timeout(state), "a retried wait for a human: count it"
            if name in STATE_WAITS:
                seconds += values[STATE_WAITS[name]]
            elif "TimeoutSecondsPath" in state:
                seconds += _wait_seconds(state["TimeoutSecondsPath"], values)[0]
            else:
                seconds += state["TimeoutSeconds"]
        return Cost(events, seconds)
    if kind == "Wait":
        if name in STATE_WAITS:
            return Cost(2, values[STATE_WAITS[name]])
        if "SecondsPath" in state:
            wait, backoffs = _wait_seconds(state["SecondsPath"], values)
            return Cost(2, wait, backoffs)
        assert "Seconds" in state, f"unbounded Wait state: {state}"
        return Cost(2, float(state["Seconds"]))
    assert kind in ("Choice", "Pass", "Succeed", "Fail"), f"no cost model for a {kind} state"
    # entered and exited; a Succeed or Fail state also ends the execution (one more event)
    return Cost(3 if kind in ("Succeed", "Fail") else 2)


def _next(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
    return [t for t in targets if t]


def _paths(asl: dict[str, Any], start: str, goal: str | None, avoid: frozenset[str]) -> Iterator[list[str]]:
    """Every simple path from start to goal (excluded), or to an end state (included) when goal is None,
    that does not pass through ``avoid``."""
    states = asl["States"]

    def walk(path: list[str]) -> Iterator[list[str]]:
        current = states[path[-1]]
        if goal is None and (current["Type"] in ("Succeed", "Fail") or current.get("End")):
            yield path
        for target in _next(current):
            if target == goal:
                yield path
            elif target not in path and target not in avoid:
                yield from walk([*path, target])

    yield from walk([start])


def _worst(
    asl: dict[str, Any],
    start: str,
    goal: str | None,
    values: dict[str, float],
    backoff: float = 0.0,
    avoid: str | None = None,
) -> Cost:
    """The most events, and separately the most seconds, over the paths (each an upper bound)."""
    avoided = frozenset({APPROVAL_STATE, *([avoid] if avoid else [])})
    costs = [
        functools.reduce(Cost.__add__, (state_cost(asl["States"][s], values, s) for s in path), Cost())
        for path in _paths(asl, start, goal, avoided)
    ]
    assert costs, f"no path from {start} to {goal or 'an end state'}"
    return Cost(
        max(c.events for c in costs),
        max(c.seconds + c.backoffs * backoff for c in costs),
    )


def _poll_states(asl: dict[str, Any]) -> list[str]:
    return [
        name
        for name, state in asl["States"].items()
        if state["Type"] == "Wait" and SECONDS_PATHS.get(state.get("SecondsPath", "")) == "PollSeconds"
    ]


def _reachable(asl: dict[str, Any], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_next(asl["States"][name]))
    return seen


def worst_case(asl: dict[str, Any], values: dict[str, float]) -> dict[str, float]:
    attempts, polls, backoff = int(values["MaxAttempts"]), int(values["MaxPolls"]), values["BackoffSeconds"]
    total = _worst(asl, asl["StartAt"], ATTEMPT_STATE, values) + Cost(events=1)  # + ExecutionStarted
    # Attempt n backs off BackoffSeconds x 2^(n-1) before it runs; the last one goes on to the end.
    loops = [_worst(asl, ATTEMPT_STATE, ATTEMPT_STATE, values, backoff * 2**n) for n in range(attempts - 1)]
    last = _worst(asl, ATTEMPT_STATE, None, values, backoff * 2 ** (attempts - 1))
    total = functools.reduce(Cost.__add__, loops, total + last)
    approval = [state_cost(asl["States"][name], values, name) for name in APPROVAL_PATH]
    total = functools.reduce(Cost.__add__, approval, total)
    in_attempts = _reachable(asl, ATTEMPT_STATE)
    poll_events = 0
    for wait in _poll_states(asl):
        # The attempt loop above already holds one poll of each of its runs.
        repeats = attempts * (polls - 1) if wait in in_attempts else polls
        poll = _worst(asl, wait, wait, values, avoid=ATTEMPT_STATE)
        total += Cost(repeats * poll.events, repeats * poll.seconds)
        poll_events = max(poll_events, poll.events)
    # Each attempt may be held: a look every hold_seconds; the first look at or past max_hold_seconds
    # escalates, so at most ceil(max_hold / hold) holds per attempt (that last look is in the paths above).
    looks = math.ceil(values[STORM_MAX_HOLD] / values[STORM_HOLD])
    hold = _worst(asl, STORM_HOLD_STATE, STORM_HOLD_STATE, values, avoid=ATTEMPT_STATE)
    total += Cost(attempts * looks * hold.events, attempts * looks * hold.seconds)
    return {
        "seconds": total.seconds,
        "events": total.events,
        "events_per_attempt": (loops[0] if loops else last).events,
        "events_per_poll": poll_events,
        "backoff_seconds": backoff * (2**attempts - 1),
        "human_seconds": values["HumanTimeoutSeconds"],
        "approval_seconds": values["ApprovalTimeoutSeconds"],
        "storm_hold_seconds": attempts * looks * hold.seconds,
        "events_per_hold": hold.events,
    }


def parameter_values(template: dict[str, Any], which: str) -> dict[str, float]:
    parameters = template["Parameters"]
    values = {name: float(p[which]) for name, p in parameters.items() if p["Type"] == "Number" and which in p}
    storm = STORM_SETTINGS[which]
    return {**values, STORM_HOLD: float(storm.hold_seconds), STORM_MAX_HOLD: float(storm.max_hold_seconds)}


@pytest.mark.parametrize("name", TIMING_PARAMETERS)
def test_every_timing_parameter_is_bounded(template: dict[str, Any], name: str) -> None:
    parameter = template["Parameters"][name]
    assert parameter["Type"] == "Number"
    assert "MinValue" in parameter and "MaxValue" in parameter, name
    assert float(parameter["MinValue"]) <= float(parameter["Default"]) <= float(parameter["MaxValue"])


def test_every_wait_of_the_asl_is_bounded_by_a_parameter(
    asl: dict[str, Any], template: dict[str, Any]
) -> None:
    for name, state in asl["States"].items():
        for key in ("SecondsPath", "TimeoutSecondsPath"):
            if key in state:
                assert state[key] in SECONDS_PATHS, f"{name}.{key}"
                assert "MaxValue" in template["Parameters"][SECONDS_PATHS[state[key]]]


@pytest.mark.parametrize("which", ["MaxValue", "Default"])
def test_the_worst_case_fits_the_execution_timeout_and_history(
    asl: dict[str, Any], template: dict[str, Any], which: str
) -> None:
    values = parameter_values(template, which)
    worst = worst_case(asl, values)
    assert worst["seconds"] <= asl["TimeoutSeconds"], worst
    assert worst["events"] <= HISTORY_LIMIT, worst


def test_the_model_counts_a_lambda_task_like_step_functions(asl: dict[str, Any]) -> None:
    """TaskStateEntered, LambdaFunctionScheduled, Started, Succeeded, TaskStateExited; a retry adds three."""
    assert state_cost({"Type": "Task", "Resource": "arn:aws:lambda:x"}, {}).events == 5
    propose = asl["States"][ATTEMPT_STATE]
    assert state_cost(propose, {}).events == 5 + 3 * _retries(propose) == 17
    assert state_cost({"Type": "Choice"}, {}).events == 2
