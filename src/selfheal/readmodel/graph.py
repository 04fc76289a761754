"""The state machine as a graph, read from its ASL definition, and a layered drawing of it.

The layout is the classic layered (Sugiyama) one, small enough to read: back edges (the loops: Fix Held?
to Propose, Fix Held? to Wait For Job Run...) are found by a depth-first search from ``StartAt`` (a
state's edges into a chain before a shortcut past it) and set aside; every state gets the layer of its
longest path from the start over the remaining edges; an edge that spans several layers passes through
invisible points, one per layer, so that it bends around the boxes instead of crossing them; and a few
barycentre sweeps order each layer to reduce crossings. Back edges are drawn as curves on the right-hand
side. Only the top level of the definition is drawn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

BOX_HEIGHT = 34.0
LAYER_GAP = 34.0
NODE_GAP = 26.0
DUMMY_WIDTH = 8.0
MARGIN = 24.0
CHAR_WIDTH = 7.2
MIN_BOX_WIDTH = 84.0
SWEEPS = 6


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # next | choice | default | catch
    label: str = ""


@dataclass(frozen=True)
class Machine:
    start: str
    states: Mapping[str, Mapping[str, Any]]
    edges: tuple[Edge, ...]

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> Machine:
        states = definition.get("States")
        if not isinstance(states, Mapping) or not states:
            raise ValueError("the definition has no States")
        start = str(definition.get("StartAt", next(iter(states))))
        edges: list[Edge] = []
        for name, state in states.items():
            if not isinstance(state, Mapping):
                continue
            for choice in state.get("Choices") or ():
                if isinstance(choice, Mapping) and choice.get("Next") in states:
                    edges.append(Edge(name, str(choice["Next"]), "choice", _condition(choice)))
            if state.get("Default") in states:
                edges.append(Edge(name, str(state["Default"]), "default", "otherwise"))
            if state.get("Next") in states:
                edges.append(Edge(name, str(state["Next"]), "next"))
            for catch in state.get("Catch") or ():
                if isinstance(catch, Mapping) and catch.get("Next") in states:
                    errors = ", ".join(str(e) for e in catch.get("ErrorEquals") or ())
                    edges.append(Edge(name, str(catch["Next"]), "catch", errors))
        return cls(start, states, tuple(dict.fromkeys(edges)))

    def type_of(self, name: str) -> str:
        return str(self.states.get(name, {}).get("Type", ""))

    def waits_for_a_token(self, name: str) -> bool:
        """A Task that waits until something sends its token back (a human, or a run's end event)."""
        state = self.states.get(name, {})
        return state.get("Type") == "Task" and "waitForTaskToken" in str(state.get("Resource", ""))

    def waits_for_a_human(self, name: str) -> bool:
        """A token wait for a human's answer: any but one whose payload ``watch``es a run ("Await Run
        End", released by the run's end event)."""
        if not self.waits_for_a_token(name):
            return False
        parameters = self.states[name].get("Parameters")
        payload = parameters.get("Payload") if isinstance(parameters, Mapping) else None
        return not (isinstance(payload, Mapping) and "watch" in payload)

    def is_wait(self, name: str) -> bool:
        return self.type_of(name) == "Wait" or self.waits_for_a_token(name)

    def successors(self, name: str) -> list[str]:
        return list(dict.fromkeys(e.target for e in self.edges if e.source == name))

    def route(self, source: str, target: str) -> list[str] | None:
        """The states after ``source`` up to and including ``target`` on a shortest route, preferring
        routes whose intermediate states record nothing (Choice, Wait, Pass); None if there is none."""
        for quiet_only in (True, False):
            found = self._bfs(source, target, quiet_only)
            if found is not None:
                return found
        return None

    def _bfs(self, source: str, target: str, quiet_only: bool) -> list[str] | None:
        previous: dict[str, str] = {}
        queue = deque([source])
        seen = {source}
        while queue:
            here = queue.popleft()
            for nxt in self.successors(here):
                if nxt == target:
                    route = [target]
                    step = here
                    while step != source:
                        route.append(step)
                        step = previous[step]
                    return route[::-1]
                if nxt in seen or (quiet_only and self.type_of(nxt) not in ("Choice", "Wait", "Pass")):
                    continue
                seen.add(nxt)
                previous[nxt] = here
                queue.append(nxt)
        return None

    def ends(self) -> list[str]:
        return [n for n in self.states if self.type_of(n) in ("Succeed", "Fail")]


def _condition(choice: Mapping[str, Any]) -> str:
    variable = str(choice.get("Variable", "")).removeprefix("$.")
    for key, value in choice.items():
        if key not in ("Variable", "Next"):
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            return f"{variable} = {shown}" if variable else key
    return variable


@dataclass(frozen=True)
class Box:
    name: str
    type: str
    x: float
    y: float
    width: float
    height: float = BOX_HEIGHT

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Route:
    edge: Edge
    d: str  # the SVG path
    back: bool
    label_x: float
    label_y: float


@dataclass(frozen=True)
class Layout:
    boxes: Mapping[str, Box]
    routes: tuple[Route, ...]
    width: float
    height: float


def _depth_first(machine: Machine) -> tuple[list[str], set[Edge]]:
    """States in discovery order (the start first, then any unreachable ones) and the back edges."""
    order: list[str] = []
    back: set[Edge] = set()
    state = {name: 0 for name in machine.states}  # 0 new, 1 on the stack, 2 done
    outgoing = {name: _explore_order(machine, name) for name in machine.states}
    roots = [machine.start] + [n for n in machine.states if n != machine.start]
    for root in roots:
        if state.get(root, 2) != 0:
            continue
        state[root] = 1
        order.append(root)
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            name, index = stack[-1]
            if index == len(outgoing[name]):
                state[name] = 2
                stack.pop()
                continue
            stack[-1] = (name, index + 1)
            edge = outgoing[name][index]
            if state[edge.target] == 1:
                back.add(edge)
            elif state[edge.target] == 0:
                state[edge.target] = 1
                order.append(edge.target)
                stack.append((edge.target, 0))
    return order, back


def _explore_order(machine: Machine, name: str) -> list[Edge]:
    """``name``'s edges, those to a state with an edge to another of its targets first: the chain
    (Await Run End to Wait For Job Run to Validate) is laid down before the shortcut beside it, so the
    loop back into the chain (Fix Held? to Wait For Job Run) is the edge drawn back."""
    edges = [e for e in machine.edges if e.source == name]
    targets = {e.target for e in edges}

    def feeds_a_sibling(edge: Edge) -> bool:
        return any(t not in (edge.target, name) for t in machine.successors(edge.target) if t in targets)

    return sorted(edges, key=lambda e: not feeds_a_sibling(e))


def _layers(machine: Machine, order: list[str], back: set[Edge]) -> dict[str, int]:
    forward = [e for e in machine.edges if e not in back and e.source != e.target]
    incoming = {name: 0 for name in machine.states}
    for edge in forward:
        incoming[edge.target] += 1
    layer = {name: 0 for name in machine.states}
    ready = deque(n for n in order if incoming[n] == 0)
    while ready:
        name = ready.popleft()
        for edge in forward:
            if edge.source == name:
                layer[edge.target] = max(layer[edge.target], layer[name] + 1)
                incoming[edge.target] -= 1
                if incoming[edge.target] == 0:
                    ready.append(edge.target)
    return layer


def box_width(name: str) -> float:
    return max(MIN_BOX_WIDTH, len(name) * CHAR_WIDTH + 22)


def layout(machine: Machine) -> Layout:
    order, back = _depth_first(machine)
    layer = _layers(machine, order, back)
    # Forward edges, each as a chain of nodes, one per layer (dummy nodes are "edge#i" tuples).
    rows: dict[int, list[Any]] = {}
    for name in order:
        rows.setdefault(layer[name], []).append(name)
    chains: dict[Edge, list[Any]] = {}
    for edge in machine.edges:
        if edge in back or edge.source == edge.target:
            continue
        chain: list[Any] = [edge.source]
        for depth in range(layer[edge.source] + 1, layer[edge.target]):
            dummy = (edge, depth)
            rows.setdefault(depth, []).append(dummy)
            chain.append(dummy)
        chain.append(edge.target)
        chains[edge] = chain
    neighbours_above: dict[Any, list[Any]] = {}
    neighbours_below: dict[Any, list[Any]] = {}
    for chain in chains.values():
        for upper, lower in pairwise(chain):
            neighbours_below.setdefault(upper, []).append(lower)
            neighbours_above.setdefault(lower, []).append(upper)
    depth_count = max(rows) + 1 if rows else 0
    for sweep in range(SWEEPS):
        downwards = sweep % 2 == 0
        depths = range(1, depth_count) if downwards else range(depth_count - 2, -1, -1)
        for depth in depths:
            reference = rows.get(depth - 1 if downwards else depth + 1, [])
            position = {node: i for i, node in enumerate(reference)}
            links = neighbours_above if downwards else neighbours_below
            current = rows.get(depth, [])

            def barycentre(
                node: Any, current: list[Any] = current, links: Any = links, position: Any = position
            ) -> float:
                linked = [position[n] for n in links.get(node, []) if n in position]
                return sum(linked) / len(linked) if linked else float(current.index(node))

            rows[depth] = sorted(current, key=barycentre)

    def width_of(node: Any) -> float:
        return box_width(node) if isinstance(node, str) else DUMMY_WIDTH

    row_widths = {
        d: sum(width_of(n) for n in nodes) + NODE_GAP * (len(nodes) - 1) for d, nodes in rows.items()
    }
    widest = max(row_widths.values(), default=0.0)
    right_lane = 40.0 + 14.0 * len(back)  # room for the back edges' curves
    width = widest + 2 * MARGIN + right_lane
    x_of: dict[Any, float] = {}
    y_of: dict[int, float] = {}
    for depth, nodes in rows.items():
        x = MARGIN + (widest - row_widths[depth]) / 2
        y_of[depth] = MARGIN + depth * (BOX_HEIGHT + LAYER_GAP)
        for node in nodes:
            x_of[node] = x
            x += width_of(node) + NODE_GAP
    boxes = {
        name: Box(name, machine.type_of(name), x_of[name], y_of[layer[name]], box_width(name))
        for name in machine.states
    }
    height = MARGIN * 2 + depth_count * (BOX_HEIGHT + LAYER_GAP) - LAYER_GAP
    routes = [_forward(edge, chain, boxes, x_of, y_of, layer) for edge, chain in chains.items()]
    for index, edge in enumerate(sorted(back, key=lambda e: (layer[e.source], e.source, e.target))):
        routes.append(_backward(edge, boxes, widest + MARGIN + 24.0 + 14.0 * index))
    for edge in machine.edges:
        if edge.source == edge.target:
            routes.append(_loop(edge, boxes[edge.source]))
    return Layout(boxes, tuple(routes), width, height)


def _forward(
    edge: Edge,
    chain: list[Any],
    boxes: Mapping[str, Box],
    x_of: Mapping[Any, float],
    y_of: Mapping[int, float],
    layer: Mapping[str, int],
) -> Route:
    source, target = boxes[edge.source], boxes[edge.target]
    points = [(source.centre, source.y + source.height)]
    for dummy in chain[1:-1]:
        x = x_of[dummy] + DUMMY_WIDTH / 2
        y = y_of[dummy[1]]
        points += [(x, y), (x, y + BOX_HEIGHT)]
    points.append((target.centre, target.y))
    d = f"M {points[0][0]:.1f} {points[0][1]:.1f}"
    for (x0, y0), (x1, y1) in pairwise(points):
        middle = (y0 + y1) / 2
        d += f" C {x0:.1f} {middle:.1f} {x1:.1f} {middle:.1f} {x1:.1f} {y1:.1f}"
    (x0, y0), (x1, y1) = points[0], points[1]
    return Route(edge, d, False, x0 + (x1 - x0) * 0.3 + 4, y0 + 12)


def _backward(edge: Edge, boxes: Mapping[str, Box], lane: float) -> Route:
    source, target = boxes[edge.source], boxes[edge.target]
    sx, sy = source.x + source.width, source.y + source.height / 2
    tx, ty = target.x + target.width, target.y + target.height / 2
    d = (
        f"M {sx:.1f} {sy:.1f} C {lane:.1f} {sy:.1f} {lane:.1f} {sy:.1f} {lane:.1f} {(sy + ty) / 2:.1f}"
        f" C {lane:.1f} {ty:.1f} {lane:.1f} {ty:.1f} {tx + 2:.1f} {ty:.1f}"
    )
    return Route(edge, d, True, lane + 3, (sy + ty) / 2)


def _loop(edge: Edge, box: Box) -> Route:
    x, y = box.x + box.width, box.y + 8
    d = f"M {x:.1f} {y:.1f} C {x + 30:.1f} {y - 20:.1f} {x + 30:.1f} {y + 36:.1f} {x + 2:.1f} {y + 18:.1f}"
    return Route(edge, d, True, x + 30, y + 8)


def taken_edges(machine: Machine, path: Iterable[str]) -> set[tuple[str, str]]:
    """The transitions an ordered path made (pairs of consecutive states joined by an edge)."""
    steps = list(path)
    known = {(e.source, e.target) for e in machine.edges}
    return {pair for pair in pairwise(steps) if pair in known}
