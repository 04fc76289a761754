"""Answer link: a human clicks approve or reject in the escalation message.

GET only shows what the link would do, with a button: mail scanners and link previews fetch every link
in a message, and a fetch must never approve anything. POST acts, once: it checks the signature and the
expiry (``domain/signed_links.py``), that the incident still waits on the very question the link was made
for (the latest ``answer_requested`` with no ``answered`` after it, and the same expiry), claims the
link's nonce (a second click, or a second tab, is refused), and sends the answer payload to the waiting
task token with SendTaskSuccess. Every refusal is a page that says why and what to do instead.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from selfheal_core.domain.events import Diagnosed, IncidentEvent, Opened
from selfheal_core.domain.signed_links import (
    ExpiredLinkError,
    LinkError,
    ReplayedLinkError,
    SignedLink,
    TamperedLinkError,
    verify,
)
from selfheal_core.domain.waiting import Waiting, waiting_for
from selfheal_core.link_ports import LinkLedger
from selfheal_core.ports import EventStore, TaskRelease

ANSWERED_BY = "link"
# Escalate publishes the message (and signs its links) a moment before the wait starts and records its own
# expiry: a link belongs to the waiting question if the two expiries are this close. A question asked
# again later (after an attempt ran) expires later by at least the time in between.
SAME_WAIT_SECONDS = 300
ELSEWHERE = "Answer from a terminal: selfheal incidents approve|reject|resolve {incident} --stack NAME"


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    lines: tuple[str, ...] = ()
    token: str | None = None  # set on the confirmation page: the form posts it back
    button: str = ""


@dataclass(frozen=True)
class _Checked:
    link: SignedLink
    waiting: Waiting
    job_name: str
    category: str


def _refusal(error: LinkError) -> Page:
    if isinstance(error, ExpiredLinkError):
        return Page(410, "This link has expired", (str(error), "A timeout never approves anything."))
    if isinstance(error, ReplayedLinkError):
        return Page(410, "This link was already used", (str(error),))
    if isinstance(error, TamperedLinkError):
        return Page(403, "This link is not valid", (str(error),))
    return Page(400, "This link is not valid", (str(error), "Open the link exactly as the message gives it."))


def _time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _context(records: list[IncidentEvent]) -> tuple[str, str]:
    job, category = "", "unknown"
    for record in records:
        if isinstance(record.event, Opened):
            job = record.event.job_name
        if isinstance(record.event, Diagnosed):
            category = record.event.diagnosis.category.value
    return job, category


def _check(token: str, key: bytes, store: EventStore, now: datetime) -> _Checked | Page:
    try:
        link = verify(token, key, now)
    except LinkError as error:
        return _refusal(error)
    records = store.load(link.incident_id)
    if not records:
        return Page(404, "No such incident", (f"selfheal has no incident {link.incident_id}.",))
    waiting = waiting_for(records)
    request = waiting.request
    elsewhere = ELSEWHERE.format(incident=link.incident_id)
    if request is None:
        if waiting.answer is not None:
            by = f" by {waiting.answer.by}" if waiting.answer.by else ""
            return Page(
                410,
                "Already answered",
                (f"Incident {link.incident_id} was already answered{by}: {waiting.answer.decision}.",),
            )
        return Page(409, "Nothing to answer", (f"Incident {link.incident_id} is not waiting for an answer.",))
    wait_ends = _time(request.expires_at)
    if wait_ends is not None and now >= wait_ends:
        return _refusal(ExpiredLinkError(f"the wait for an answer ended at {request.expires_at}"))
    if wait_ends is None or abs((link.expiry() - wait_ends).total_seconds()) > SAME_WAIT_SECONDS:
        return Page(
            410,
            "This link answers an earlier question",
            (f"Incident {link.incident_id} has asked again since; use the links in the newest message.",),
        )
    if request.question != "approval":
        return Page(
            409,
            "This incident asks for a fix, not an approval",
            (f"Incident {link.incident_id} is owned by a human now.", elsewhere),
        )
    job, category = _context(records)
    return _Checked(link, waiting, job, category)


def _summary(checked: _Checked) -> tuple[str, ...]:
    request = checked.waiting.request
    assert request is not None
    proposed = request.proposed.value if request.proposed is not None else "the proposed action"
    job = checked.job_name or "unknown"
    lines = [
        f"Incident {checked.link.incident_id}: job {job}, category {checked.category}.",
        f"selfheal proposes: {proposed}.",
    ]
    if request.reasons:
        lines.append(f"It asks because of: {', '.join(request.reasons)}.")
    lines.append(f"The question stays open until {request.expires_at}.")
    return tuple(lines)


def confirm(token: str, key: bytes, store: EventStore, now: datetime) -> Page:
    """GET: what the link would do, and a button that does it. Changes nothing."""
    checked = _check(token, key, store, now)
    if isinstance(checked, Page):
        return checked
    verb = "Approve" if checked.link.decision == "approve" else "Reject"
    return Page(200, f"{verb} this proposal?", _summary(checked), token=token, button=verb)


def answer(
    token: str,
    key: bytes,
    store: EventStore,
    ledger: LinkLedger,
    answers: TaskRelease,
    now: datetime,
    by: str = "",
    on_error: Callable[[Exception], None] | None = None,
) -> Page:
    """POST: the answer, delivered once to the waiting task."""
    checked = _check(token, key, store, now)
    if isinstance(checked, Page):
        return checked
    link, request = checked.link, checked.waiting.request
    assert request is not None
    try:
        ledger.claim(link, by)
    except ReplayedLinkError as error:
        return _refusal(error)
    payload = {"decision": link.decision, "category": None, "action": None, "note": None}
    try:
        delivered = answers.succeed(request.task_token, {**payload, "answered_by": ANSWERED_BY})
    except Exception as error:  # the answer did not go through: free the link so that a retry can work
        if on_error is not None:
            on_error(error)
        ledger.release(link)
        return Page(
            503,
            "Not recorded: try again",
            ("selfheal could not deliver the answer just now; the link still works.",),
        )
    if not delivered:
        return Page(
            410,
            "The wait is over",
            (f"Incident {link.incident_id} no longer waits for this answer: it timed out or was answered.",),
        )
    if link.decision == "approve":
        proposed = request.proposed.value if request.proposed is not None else "the proposed action"
        job = checked.job_name or "the job"
        done = f"Approved. selfheal now runs {proposed} on {job} and checks that the run succeeds."
    else:
        done = "Rejected. Nothing will run; the incident is now a human's to fix."
    return Page(200, "Answer recorded", (done, f"Incident {link.incident_id}."))


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
    "button{font-size:1.1rem;padding:.6rem 1.4rem;cursor:pointer}"
)


def render(page: Page) -> str:
    """A self-contained page: no script, no external resource; every value escaped."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in page.lines)
    if page.token is not None:
        body += (
            '<form method="post">'
            f'<input type="hidden" name="t" value="{html.escape(page.token, quote=True)}">'
            f'<button type="submit">{html.escape(page.button)}</button></form>'
        )
    title = html.escape(page.title)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>selfheal: {title}</title><style>{STYLE}</style></head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    )
