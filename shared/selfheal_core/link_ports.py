"""The small interfaces of one-click answers (``ports.py`` style): Escalate asks ``ports.AnswerLinks`` for the
links it puts in a message; the answer link function claims a link in a ``LinkLedger`` and delivers the
answer through ``ports.TaskRelease``. Adapters in ``adapters/links.py``; tests pass fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from selfheal_core.domain.signed_links import SignedLink
from selfheal_core.ports import EventStore, TaskRelease


class LinkLedger(Protocol):
    def claim(self, link: SignedLink, by: str) -> None:
        """Record ``link`` as used; ``ReplayedLinkError`` if it was used before."""
        ...

    def release(self, link: SignedLink) -> None:
        """Forget a claim whose answer could not be delivered, so that the link can be tried again."""
        ...


@dataclass
class LinkDependencies:
    """What the answer link function is wired with (``functions/answer_link/app.py``)."""

    key: Callable[[], bytes]
    store: EventStore
    ledger: LinkLedger
    answers: TaskRelease
