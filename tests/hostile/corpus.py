"""The hostile-input corpus: each input, the real entry point it goes through, and what "handled
cleanly" means for it. Shared by ``tests/hostile/test_hostile_inputs.py`` and
``benchmarks/hostile_report.py``.

Handled cleanly: the entry point returns exit code 0 or 2 (2 with one ``selfheal <command>: error:``
line on stderr, after at most a notice such as "invalid bytes were replaced"), no Python traceback is printed or raised, and when the input is an event that names a
failed run, an escalated incident for that run is left in the event log. Nothing here is timed.

Entry points: ``selfheal classify`` (JSON lines, ``--text``, ``--report``, ``--signatures``),
``selfheal evaluate --scenario``, ``selfheal replay`` (in-process through ``selfheal.cli.main``; the
ones that run the local engine are ``slow``), the Diagnose and Escalate handlers with fakes (wired as
in AWS: Diagnose first, and, when it raises, Escalate with the event and the error, as the ASL's Catch
does), the redacting event store (every ``domain/redaction.py`` pattern) and a few real subprocesses.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from fakes import load_handler_module

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
# Exit 2: the last stderr line is the error; any line before it is a notice (e.g. bytes replaced).
ERROR_LINE = re.compile(r"^selfheal [a-z]+: error: .+$|^usage: selfheal")
NOTICE = re.compile(r"^(selfheal [a-z]+: |usage: selfheal|  )")


@dataclass
class Result:
    code: int | None
    out: str = ""
    err: str = ""
    traceback: str | None = None  # an exception that escaped, or "Traceback" printed
    lost_incident: bool = False  # an event naming a failed run left no escalated incident


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[Path], Result]
    slow: bool = False
    known_gap: str | None = None  # why this input is not yet handled cleanly, and whose code it is in


def problems(result: Result) -> list[str]:
    """Why ``result`` is not a clean handling (empty: it is)."""
    found: list[str] = []
    if result.traceback is not None or "Traceback (most recent call last)" in result.err:
        found.append(f"traceback: {(result.traceback or result.err)[-2000:]}")
    if result.code not in (0, 2):
        found.append(f"exit code {result.code}")
    lines = result.err.splitlines()
    if result.code == 2 and not (
        lines and ERROR_LINE.match(lines[-1]) and all(NOTICE.match(x) for x in lines)
    ):
        found.append(f"exit 2 without one clear error line on stderr: {result.err[:500]!r}")
    if "\x1b" in result.out or "\x1b" in result.err:  # captured output is not a terminal: no styles
        found.append("a raw ESC character reached the terminal output")
    if result.lost_incident:
        found.append("the event names a failed run but no escalated incident was recorded")
    return found


# --------------------------------------------------------------------------- running the CLI


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_cli(argv: list[str], home: Path | None = None) -> Result:
    """``selfheal.cli.main(argv)`` in-process, its stdout and stderr captured."""
    from selfheal.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | None
    escaped: str | None = None
    with _env(SELFHEAL_HOME=str(home)) if home else contextlib.nullcontext():
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        except SystemExit as error:  # argparse's own usage errors
            code = error.code if isinstance(error.code, int) else 2
        except BaseException:
            code, escaped = None, traceback.format_exc()
    return Result(code, out.getvalue(), err.getvalue(), escaped)


def run_subprocess(argv: list[str], home: Path) -> Result:
    env = {**os.environ, "SELFHEAL_HOME": str(home), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "selfheal.cli", *argv],
        capture_output=True,
        env=env,
        cwd=REPO,
        check=False,
    )
    return Result(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


def _write(tmp: Path, name: str, content: bytes | str) -> Path:
    path = tmp / name
    path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    return path


def cli_case(name: str, content: bytes | str, *args: str, slow: bool = False) -> Case:
    """``selfheal <args with {file} replaced by a file holding content>``."""

    def run(tmp: Path) -> Result:
        path = _write(tmp, "input", content)
        argv = [str(path) if arg == "{file}" else arg for arg in args]
        return run_cli(argv, home=tmp / "home")

    return Case(name, run, slow)


def subprocess_case(name: str, content: bytes | str, *args: str) -> Case:
    def run(tmp: Path) -> Result:
        path = _write(tmp, "input", content)
        return run_subprocess([str(path) if arg == "{file}" else arg for arg in args], tmp / "home")

    return Case(f"subprocess: {name}", run, slow=True)


def signatures_case(name: str, content: bytes | str) -> Case:
    def run(tmp: Path) -> Result:
        signatures = _write(tmp, "signatures.json", content)
        logs = _write(tmp, "logs.jsonl", '{"message": "Rate exceeded (Service: AWSGlue)"}\n')
        return run_cli(["classify", "--signatures", str(signatures), str(logs)], home=tmp / "home")

    return Case(f"classify --signatures: {name}", run)


def replay_case(name: str, event: Any, names_run: tuple[str, str] | None = None, human: bool = False) -> Case:
    """``selfheal replay`` of ``event``; when it names a failed run, that run's incident must be escalated."""
    content = event if isinstance(event, bytes | str) else json.dumps(event)

    def run(tmp: Path) -> Result:
        path = _write(tmp, "event.json", content)
        home = tmp / "home"
        result = run_cli(["replay", str(path)] if human else ["replay", str(path), "--json"], home=home)
        if names_run is not None and result.traceback is None:
            result.lost_incident = not _escalated_in_sqlite(home, *names_run)
        return result

    return Case(f"replay: {name}", run, slow=names_run is not None)


def _escalated_in_sqlite(home: Path, job: str, run: str) -> bool:
    from selfheal_core.adapters.sqlite_store import SqliteEventStore
    from selfheal_core.domain.events import Escalated
    from selfheal_core.domain.incident import incident_id_for

    database = home / "selfheal.sqlite3"
    if not database.exists():
        return False
    store = SqliteEventStore(database)
    try:
        return any(isinstance(r.event, Escalated) for r in store.load(incident_id_for(job, run)))
    finally:
        store.close()


# --------------------------------------------------------------------------- the handlers, with fakes


def handler(name: str) -> Callable[..., dict[str, Any]]:
    return load_handler_module(name).lambda_handler  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Context:
    function_name: str = "selfheal-hostile"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:x"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def handler_case(
    name: str,
    event: Any,
    names_run: tuple[str, str] | None = None,
    log: str | None = None,
    known_gap: str | None = None,
) -> Case:
    """Diagnose with ``event``; if it raises, Escalate with the event and the error (the ASL's Catch).

    A ``SelfhealError`` from Diagnose is the designed refusal; any other exception is a traceback
    (the workflow would still escalate, but the input was not handled cleanly). Escalate must not fail:
    then the incident would be lost.
    """

    def run(tmp: Path) -> Result:
        from fakes import FakeGlue, FakeLogReader, InMemoryEventStore, RecordingNotifier, make_deps
        from selfheal_core.adapters.audit import DirectoryAuditSink
        from selfheal_core.domain.events import Escalated
        from selfheal_core.domain.incident import incident_id_for
        from selfheal_core.errors import SelfhealError
        from selfheal_core.runtime.wiring import guarded_notifier, guarded_store

        inner = InMemoryEventStore()
        glue = FakeGlue()
        if names_run is not None:
            glue.add_job(names_run[0])
            glue.add_run(names_run[0], names_run[1], error_message="failed")
        deps = make_deps(
            store=guarded_store(inner, DirectoryAuditSink(tmp / "audit")),
            notifier=guarded_notifier(RecordingNotifier()),
            glue=glue,
            logs=FakeLogReader({names_run[1]: log} if names_run and log is not None else {}),
        )
        result = Result(0)
        try:
            handler("diagnose")({"event": event, "execution_id": "ex-hostile"}, _Context(), deps=deps)
        except SelfhealError as error:
            result.err = f"Diagnose: {type(error).__name__}: {str(error)[:300]}"
            state = {**event, "error": {"Error": type(error).__name__, "Cause": str(error)}}
            try:
                handler("escalate")(state, _Context(), deps=deps)
            except SelfhealError as refused:
                if names_run is not None:
                    result.traceback = f"Escalate refused an event naming a run: {refused}"
                # else: nothing names a run; the execution fails and the ExecutionsFailed alarm fires
            except BaseException:
                result.traceback = "Escalate failed: " + traceback.format_exc()
                return result
        except BaseException:
            result.traceback = traceback.format_exc()
            return result
        if names_run is not None:
            incident = incident_id_for(*names_run)
            diagnosed = any(r.kind == "diagnosed" for r in inner.load(incident))
            escalated = any(isinstance(r.event, Escalated) for r in inner.load(incident))
            result.lost_incident = not (diagnosed or escalated)
        return result

    return Case(f"handlers: {name}", run, known_gap=known_gap)


# --------------------------------------------------------------------------- adversarial regex text


def _attacks(pattern: str, flags: int) -> list[tuple[str, str, str]]:
    """(prefix, pump, suffix) strings that make ``pattern`` work hardest (regex_safety's own)."""
    import re._parser as sre_parse  # the stdlib's parser, as regex_safety uses it

    from selfheal_core.classification import regex_safety

    compiled = re.compile(pattern, flags)
    sets = regex_safety._CharSets(
        ignore_case=bool(compiled.flags & re.IGNORECASE), dot_all=bool(compiled.flags & re.DOTALL)
    )
    attacks = regex_safety._attack_strings(sre_parse.parse(pattern, flags), sets, 2048)
    return [(a.prefix, a.pump, a.suffix) for a in attacks[:4]] or [("", "a", "!")]


def adversarial_lines(pattern: str, flags: int = 0, size: int = MB) -> str:
    """About ``size`` characters of distinct lines (each under 2,000 characters) built to stress
    ``pattern``: what the classifier, which caps its lines, would have to scan."""
    lines: list[str] = []
    total = 0
    attacks = _attacks(pattern, flags)
    index = 0
    while total < size:
        prefix, pump, suffix = attacks[index % len(attacks)]
        room = max(1, (1990 - len(prefix) - len(suffix)) // max(1, len(pump)))
        repetitions = max(1, room - (index // len(attacks)) % room)  # distinct lengths: not de-duplicated
        line = (prefix + pump * repetitions + suffix)[:1999]
        lines.append(line)
        total += len(line) + 1
        index += 1
    return "\n".join(lines)


def adversarial_blob(pattern: str, flags: int = 0, size: int = MB) -> str:
    """One ``size``-character string (no line breaks of its own) built to stress ``pattern``."""
    prefix, pump, suffix = _attacks(pattern, flags)[0]
    return prefix + pump * max(1, (size - len(prefix) - len(suffix)) // max(1, len(pump))) + suffix


def _module_patterns(module: ModuleType) -> list[tuple[str, re.Pattern[str]]]:
    return [
        (name, value)
        for name, value in sorted(vars(module).items())
        if isinstance(value, re.Pattern) and isinstance(value.pattern, str)
    ]


def classify_text_case(name: str, text: str) -> Case:
    return cli_case(name, text, "classify", "--text", "{file}")


def store_redaction_case(name: str, text: str) -> Case:
    """The text as a Glue message through the redacting store (every redaction pattern runs on it)."""

    def run(tmp: Path) -> Result:
        from fakes import InMemoryEventStore
        from selfheal_core.domain.events import Opened
        from selfheal_core.runtime.wiring import guarded_store

        try:
            store = guarded_store(InMemoryEventStore())
            store.open("inc-0000000000000000", Opened("job", "jr_1", None, {"detail": {"message": text}}))
        except BaseException:
            return Result(None, traceback=traceback.format_exc())
        return Result(0)

    return Case(name, run)


def evidence_case(name: str, text: str) -> Case:
    """The text as the run's CloudWatch log, through the Diagnose handler (evidence.py, the classifier)."""
    return handler_case(
        name, _glue_event("adversarial-job", "jr_adversarial"), ("adversarial-job", "jr_adversarial"), text
    )


SIGNATURE_GROUPS = 4  # the shipped signatures are attacked in this many 1 MB texts


def regex_cases() -> list[Case]:
    """1 MB of adversarial text for every shipped regex, through the entry point that runs it.

    The classifier's regexes (signatures.json, structured.py, features.py) see lines of at most 2,000
    characters, so their texts are 1 MB of distinct attack lines; to keep the suite fast, each 1 MB
    text interleaves the attack lines of several regexes (every regex runs over the whole text). The
    redaction and evidence regexes run on whole messages and logs, so each gets its own 1 MB string.
    """
    from selfheal_core.classification import features, structured
    from selfheal_core.classification.classifier import load_signatures
    from selfheal_core.domain import evidence, redaction

    cases: list[Case] = []
    signatures = list(load_signatures())
    for group in range(SIGNATURE_GROUPS):
        members = signatures[group::SIGNATURE_GROUPS]
        text = interleaved([(s.pattern, re.IGNORECASE) for s in members])
        names = f"{members[0].id} .. {members[-1].id}, {len(members)} signatures"
        cases.append(classify_text_case(f"1 MB against signatures ({names})", text))
    for module in (structured, features):
        patterns = _module_patterns(module)
        text = interleaved([(pattern.pattern, pattern.flags) for _, pattern in patterns])
        cases.append(classify_text_case(f"1 MB against {module.__name__} ({len(patterns)} regexes)", text))
    for attribute, pattern in _module_patterns(redaction):
        text = adversarial_blob(pattern.pattern, pattern.flags)
        cases.append(store_redaction_case(f"1 MB against redaction.{attribute}", text))
    for attribute, pattern in _module_patterns(evidence):
        text = adversarial_blob(pattern.pattern, pattern.flags)
        cases.append(evidence_case(f"1 MB against evidence.{attribute}", text))
    return cases


def interleaved(patterns: list[tuple[str, int]], size: int = MB) -> str:
    """``size`` characters of attack lines for all of ``patterns``, one pattern's line after another's."""
    share = size // max(1, len(patterns))
    per_pattern = [adversarial_lines(pattern, flags, share).split("\n") for pattern, flags in patterns]
    lines = [line for group in itertools.zip_longest(*per_pattern) for line in group if line is not None]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the inputs


def _glue_event(job: Any = "etl-job", run: Any = "jr_hostile01", **detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "7d1c0000-0000-4000-8000-000000000001",
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": "123456789012",
        "time": "2026-11-27T02:14:07Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"jobName": job, "jobRunId": run, "state": "FAILED", "message": "failed", **detail},
    }


def _dq_event(**detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "7d1c0000-0000-4000-8000-000000000002",
        "detail-type": "Data Quality Evaluation Results Available",
        "source": "aws.glue-dataquality",
        "account": "123456789012",
        "time": "2026-11-27T02:14:07Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "context": {"contextType": "GLUE_JOB", "jobName": "dq-job", "jobId": "jr_dq01"},
            "resultId": "dqresult-1",
            "state": "FAILED",
            "score": 0.5,
            "numRulesSucceeded": 1,
            "numRulesFailed": 1,
            "rulesetNames": ["rs"],
            **detail,
        },
    }


def _nested(levels: int, leaf: str = "x") -> str:
    return "[" * levels + json.dumps(leaf) + "]" * levels


def _signature(**overrides: Any) -> str:
    entry = {
        "id": "operator-one",
        "category": "transient_network",
        "pattern": "connection reset by peer",
        "rationale": "r",
        "example": "connection reset by peer",
        **overrides,
    }
    return json.dumps([entry])


TEN_MB = "E" * (10 * MB)
HUGE_INT = "1" + "0" * 5000
MARKUP_JOB = "[link=https://evil.example]click[/link][bold red]x"
ESC_JOB = "etl\x1b[2J\x1b]8;;https://evil\x07job"


def classify_cases() -> list[Case]:
    lines = [
        ("empty file", b""),
        ("blank lines only", b"\n\n   \n\t\n"),
        ("invalid UTF-8 in a message", b'{"message": "bad \xff\xfe bytes \xc3\x28 here"}\n'),
        ("invalid UTF-8 outside strings", b'\xff{"message": "x"}\n'),
        ("NUL escapes in a message", '{"message": "a\\u0000b\\u0000"}\n'),
        ("raw NUL bytes in the file", b'{"message": "a"}\x00\n\x00\x00\n'),
        ("a lone high surrogate", '{"message": "Access Denied \\ud800 here"}\n'),
        ("a lone low surrogate", '{"message": "\\udfff AccessDenied"}\n'),
        ("a surrogate as raw UTF-8 bytes", b'{"message": "\xed\xa0\x80 x"}\n'),
        ("100,000 nested arrays", _nested(100_000) + "\n"),
        ("1,000 nested objects", '{"a":' * 1000 + "1" + "}" * 1000 + "\n"),
        ("a 5,000-digit integer", '{"message": "x", "n": ' + HUGE_INT + "}\n"),
        ("message is a number", '{"message": 12}\n'),
        ("message is a list", '{"message": ["a"]}\n'),
        ("message is null", '{"message": null}\n'),
        ("message is an object", '{"message": {"a": 1}}\n'),
        ("a top-level array", "[1, 2]\n"),
        ("a top-level string", '"message"\n'),
        ("a 10 MB message", json.dumps({"message": TEN_MB}) + "\n"),
        ("a 1 MB line without a newline", "a" * MB),
        (
            "ESC sequences in a message",
            json.dumps({"message": "\x1b[31mAccessDenied\x1b[0m\x1b]0;title\x07"}),
        ),
        ("rich markup in a message", json.dumps({"message": "[link=https://evil]x[/link] [bold]OOM"})),
        (
            "2,000 short lines",
            "\n".join(json.dumps({"message": f"Rate exceeded {i}"}) for i in range(2_000)),
        ),
        ("CRLF line endings", '{"message": "Rate exceeded"}\r\n{"message": "x"}\r\n'),
        ("U+2028 inside a message", '{"message": "a\u2028b\u2029c"}\n'),
        ("a NaN literal", '{"message": "x", "n": NaN}\n'),
        ("truncated JSON", '{"message": "x'),
        ("a UTF-8 byte order mark", b'\xef\xbb\xbf{"message": "x"}\n'),
    ]
    cases = [cli_case(f"classify: {name}", content, "classify", "{file}") for name, content in lines]
    cases += [
        cli_case(
            "classify --text: 64 KB of binary garbage",
            bytes(range(256)) * 256,
            "classify",
            "--text",
            "{file}",
        ),
        cli_case("classify --text: 10 MB log", TEN_MB, "classify", "--text", "{file}"),
        cli_case("classify --text: NULs everywhere", b"\x00" * 10_000, "classify", "--text", "{file}"),
        cli_case("classify --text: empty", b"", "classify", "--text", "{file}"),
        cli_case(
            "classify --text: ESC and markup",
            f"{ESC_JOB} {MARKUP_JOB} AccessDenied",
            "classify",
            "--text",
            "{file}",
        ),
        cli_case(
            "classify --report: category is a number",
            '{"message": "x", "category": 5}\n',
            "classify",
            "--report",
            "{file}",
        ),
        cli_case("classify --report: no category", '{"message": "x"}\n', "classify", "--report", "{file}"),
        cli_case("classify --report: deep nesting", _nested(50_000), "classify", "--report", "{file}"),
        cli_case("classify --report: empty file", b"", "classify", "--report", "{file}"),
        cli_case(
            "classify --report: huge integer",
            '{"message": "x", "category": "unknown", "group": ' + HUGE_INT + "}\n",
            "classify",
            "--report",
            "{file}",
        ),
        cli_case("classify: the input is a directory", b"", "classify", "."),
        cli_case("classify: the input does not exist", b"", "classify", "no/such/file.jsonl"),
    ]
    return cases


def signature_cases() -> list[Case]:
    return [
        signatures_case("(a+)+$", _signature(pattern="(a+)+$", example="aaaa")),
        signatures_case("(a|a)*b", _signature(pattern="(a|a)*b", example="aab")),
        signatures_case("(\\w+\\s?)+$", _signature(pattern="(\\w+\\s?)+$", example="a b")),
        signatures_case("(.*a){20}", _signature(pattern="(.*a){20}", example="a" * 20)),
        signatures_case("(x+x+)+y", _signature(pattern="(x+x+)+y", example="xxy")),
        signatures_case("not JSON", "[{"),
        signatures_case("invalid UTF-8", b'[{"id": "\xff\xfe"}]'),
        signatures_case("100,000 nested arrays", _nested(100_000)),
        signatures_case("an object, not a list", '{"id": "x"}'),
        signatures_case("weight is a string", _signature(weight="heavy")),
        signatures_case("weight is 1e400", _signature().replace('"example"', '"weight": 1e400, "example"')),
        signatures_case("unknown category", _signature(category="apocalypse")),
        signatures_case("pattern does not compile", _signature(pattern="((", example="x")),
        signatures_case(
            "5,000 nested groups", _signature(pattern="(" * 5000 + "a" + ")" * 5000, example="a")
        ),
        signatures_case("a 1 MB pattern", _signature(pattern="a" * MB, example="a" * MB)),
        signatures_case("markup and ESC in the id", _signature(id=f"{MARKUP_JOB}{ESC_JOB}", weight="x")),
        signatures_case("duplicate ids", json.dumps([json.loads(_signature())[0]] * 2)),
        signatures_case("empty file", b""),
        signatures_case("a 10 MB example", _signature(example=TEN_MB)),
        signatures_case("fields of the wrong type", json.dumps([{"id": 1, "category": [], "pattern": None}])),
    ]


def scenario_cases() -> list[Case]:
    def case(name: str, content: bytes | str) -> Case:
        return cli_case(f"evaluate --scenario: {name}", content, "evaluate", "--scenario", "{file}", "--json")

    return [
        case("not JSON", "{"),
        case("invalid UTF-8", b'{"name": "\xff"}'),
        case("100,000 nested arrays", _nested(100_000)),
        case("a top-level list", "[]"),
        case("empty file", b""),
        case("incidents is a string", '{"incidents": "many"}'),
        case("a 5,000-digit integer", '{"incidents": ' + HUGE_INT + "}"),
        case("incidents is 1e400", '{"incidents": 1e400}'),
        case("jobs of the wrong type", '{"jobs": "all"}'),
        case("NUL bytes", b'{"name": "a\x00b"}'),
    ]


def replay_cases() -> list[Case]:
    return [
        replay_case("empty file", b""),
        replay_case("invalid UTF-8 only", b"\xff\xfe\xfd"),
        replay_case("100,000 nested arrays", _nested(100_000)),
        replay_case("a top-level list", "[1, 2]"),
        replay_case("NUL bytes", b"\x00\x00{}"),
        replay_case("wrong source", {**_glue_event(), "source": "aws.s3"}),
        replay_case("no detail", {k: v for k, v in _glue_event().items() if k != "detail"}),
        replay_case("detail is a string", {**_glue_event(), "detail": "FAILED"}),
        replay_case("a 17 MB file of spaces", b" " * (17 * MB) + b"{}"),
        replay_case("a 10 MB message (over the 256 KB event limit)", _glue_event(message=TEN_MB)),
        replay_case("a succeeded run", _glue_event(state="SUCCEEDED")),
        replay_case("job name is an object", _glue_event(job={"a": 1})),
        replay_case(
            "DQ counts of 5,000 digits",
            json.dumps(_dq_event()).replace('"numRulesFailed": 1', '"numRulesFailed": ' + HUGE_INT),
        ),
        # These name a failed run: the local engine runs them and the incident must be escalated.
        replay_case(
            "markup and ESC in the job name",
            _glue_event(job=MARKUP_JOB + ESC_JOB),
            (MARKUP_JOB + ESC_JOB, "jr_hostile01"),
            human=True,
        ),
        replay_case(
            "a 216 KB message of control characters",
            _glue_event(message="\x1b\x00\x07" * 12_000),
            ("etl-job", "jr_hostile01"),
        ),
        replay_case("message is a number", _glue_event(message=404), ("etl-job", "jr_hostile01")),
        replay_case(
            "a lone surrogate in the run id",
            json.dumps(_glue_event(run="jr_\ud800x")),
            ("etl-job", "jr_\ufffdx"),
        ),
    ]


def handler_cases() -> list[Case]:
    named = ("etl-job", "jr_hostile01")
    return [
        handler_case("a 10 MB message", _glue_event(message=TEN_MB), named),
        handler_case("100,000 nested levels in the detail", _deep_event(100_000), named),
        handler_case("markup job name", _glue_event(job=MARKUP_JOB), (MARKUP_JOB, "jr_hostile01")),
        handler_case("ESC job name", _glue_event(job=ESC_JOB), (ESC_JOB, "jr_hostile01")),
        handler_case("DQ count of 5,000 digits", _dq_event(numRulesFailed=10**5000), ("dq-job", "jr_dq01")),
        handler_case("DQ score NaN", _dq_event(score=float("nan")), ("dq-job", "jr_dq01")),
        handler_case("DQ score infinite", _dq_event(score=float("inf")), ("dq-job", "jr_dq01")),
        handler_case(
            "DQ count is a string",
            _dq_event(numRulesFailed="3"),
            ("dq-job", "jr_dq01"),
        ),
        handler_case(
            "DQ ruleset names of the wrong type", _dq_event(rulesetNames=[1, None]), ("dq-job", "jr_dq01")
        ),
        handler_case("run id is a number", _glue_event(run=12345)),
        handler_case("no run id", {**_glue_event(), "detail": {"jobName": "etl-job", "state": "FAILED"}}),
        handler_case("an empty event", {}),
        handler_case(
            "lone surrogates in the job name",
            _glue_event(job="etl\ud800\udfff"),
            ("etl\ufffd\ufffd", "jr_hostile01"),
        ),
        handler_case("NUL bytes in the message", _glue_event(message="a\x00b" * 1000), named),
        handler_case(
            "a 10 MB log with secrets",
            _glue_event(),
            named,
            log=("password=hunter2 " + "y" * 1000 + "\n") * 10_000,
        ),
        handler_case("a log of NULs and surrogates", _glue_event(), named, log="\x00\ud800" * MB),
        handler_case("a 1 MB message over the event limit", _glue_event(message="m" * MB), named),
        handler_case("message is a list", _glue_event(message=["a", "b"]), named),
    ]


def _deep_event(levels: int) -> dict[str, Any]:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return _glue_event(extra=value)


def subprocess_cases() -> list[Case]:
    return [
        subprocess_case("classify a lone surrogate", '{"message": "\\ud800"}\n', "classify", "{file}"),
        subprocess_case("classify invalid UTF-8", b'{"message": "\xff"}\n', "classify", "{file}"),
        subprocess_case("replay 100,000 nested arrays", _nested(100_000), "replay", "{file}"),
        subprocess_case(
            "an evil operator signature",
            _signature(pattern="(a+)+$", example="aa"),
            "classify",
            "--signatures",
            "{file}",
            "/dev/null",
        ),
        subprocess_case("a scenario of invalid UTF-8", b"\xff", "evaluate", "--scenario", "{file}"),
    ]


def all_cases() -> list[Case]:
    return [
        *classify_cases(),
        *signature_cases(),
        *scenario_cases(),
        *replay_cases(),
        *handler_cases(),
        *subprocess_cases(),
        *regex_cases(),
    ]
