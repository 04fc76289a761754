#!/usr/bin/env python3
r"""Invoke a function of the built SAM application without Docker: a stand-in for `sam local invoke`.

Where a container runtime exists, the real command is::

    sam build && sam local invoke DiagnoseFunction -e events/functions/diagnose.json [--env-vars env.json]

Here (no Docker engine), run::

    sam build
    python scripts/invoke_built.py DiagnoseFunction -e events/functions/diagnose.json [--env-vars env.json]

What it does, the way the Lambda runtime would:

- reads the built template (``.aws-sam/build/template.yaml`` by default; ``--template`` for another
  build dir) with a YAML loader that tolerates the short intrinsics (``!Ref``, ``!GetAtt``, ``!Sub``,
  ``!If`` ...);
- puts the function's built ``CodeUri`` first on ``sys.path``, then the ``python/`` dir of each of its
  built layers (Lambda's ``/var/task`` and ``/opt/python``);
- merges ``Globals.Function.Environment`` with the function's own variables. Values that are intrinsics
  (``!Ref EventsTable``...) cannot be resolved offline and are dropped; give them in ``--env-vars``, in
  SAM's format ``{"DiagnoseFunction": {"EVENTS_TABLE": "x"}, "Parameters": {"FOR_ALL": "y"}}``;
- runs the handler in a separate ``python -I -S`` process (no site-packages: only the standard library,
  the function and its layers, as in Lambda) with a fake Lambda context and ``AWS_SAM_LOCAL=true``
  (Powertools then skips X-Ray). If the layers bring no boto3, the calling interpreter's boto3 location
  is appended last, as the runtime's own boto3 would be;
- prints the handler's JSON result on stdout (the function's logs go to stderr). An exception prints
  ``{"errorType", "errorMessage"}`` on stdout and exits 1, like ``sam local invoke``.

**No AWS call unless asked.** By default the handler runs with the local backend of
``events/local/invoke.env.json`` (SQLite store and Q-table, audit files, no topic, no settings parameter:
``STORE_BACKEND=sqlite``...), with dummy credentials, and with every AWS SDK call sent to a closed local
port (unless ``AWS_ENDPOINT_URL`` points somewhere, e.g. a moto server): a handler that needs Glue or
CloudWatch Logs fails fast instead of reaching AWS. ``--aws`` passes your credentials, profile and region
through, as ``sam local invoke`` does, and then needs ``--env-vars`` naming the stack's tables and bucket.

**Architecture.** Compiled dependencies (numpy, rpds-py, wrapt) are built for the function's
``Architectures`` (arm64 in ``template.yaml``), and an arm64 layer cannot be imported on an x86_64 host.
The script looks for a build for this host first (``.aws-sam/build-<arch>/template.yaml``, e.g.
``build-x86_64``), and says how to make one when only a build for another architecture exists::

    sed 's/\barm64\b/x86_64/g' template.yaml > /tmp/template-x86_64.yaml
    sam build -t /tmp/template-x86_64.yaml --base-dir . --build-dir .aws-sam/build-x86_64
    python scripts/invoke_built.py ProposeFunction -e events/functions/propose.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATE = Path(".aws-sam/build/template.yaml")
LOCAL_ENV_VARS = Path(__file__).resolve().parent.parent / "events" / "local" / "invoke.env.json"
# Always passed through to the handler.
PASS_THROUGH = ("HOME", "PATH", "TZ", "LANG", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL")
# Passed through only with --aws, as sam local invoke does with the caller's AWS settings.
AWS_PASS_THROUGH = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
# Without --aws: credentials that sign nothing real, and an endpoint nothing listens on (port 9, discard),
# so an SDK call fails at once with a connection error instead of reaching AWS or the instance metadata.
OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",
}
OFFLINE_ENDPOINT = "http://127.0.0.1:9"
HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def host_architecture() -> str:
    """This machine as Lambda names architectures (``uname -m`` x86_64/amd64 -> x86_64, aarch64 -> arm64)."""
    machine = platform.machine().lower()
    return HOST_ARCH.get(machine, machine)


def default_template(host: str) -> Path:
    """A build for this host's architecture if there is one (see the module doc), else ``sam build``'s."""
    for_host = Path(f".aws-sam/build-{host}/template.yaml")
    return for_host if for_host.is_file() else DEFAULT_TEMPLATE


def build_for_host_hint(host: str, built_for: str) -> str:
    """One line: how to build a copy of the template that runs here."""
    return (
        f"invoke_built: the build is for {built_for} and this host is {host}, so compiled dependencies "
        f"(numpy...) will not import; build for {host} with: "
        f"sed 's/\\b{built_for}\\b/{host}/g' template.yaml > /tmp/template-{host}.yaml && "
        f"sam build -t /tmp/template-{host}.yaml --base-dir . --build-dir .aws-sam/build-{host} "
        f"(this script then finds it)"
    )


def aws_environment(use_aws: bool, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's AWS settings with ``--aws``; otherwise settings under which no call can reach AWS."""
    environ = dict(os.environ) if environ is None else environ
    env = {k: environ[k] for k in PASS_THROUGH if k in environ}
    env.update({k: v for k, v in environ.items() if k.startswith("AWS_ENDPOINT_URL_")})
    if use_aws:
        env.update({k: environ[k] for k in AWS_PASS_THROUGH if k in environ})
        return env
    env.update(OFFLINE_ENV)
    env.setdefault("AWS_ENDPOINT_URL", OFFLINE_ENDPOINT)
    return env


class _TolerantLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no stubs here
    """SafeLoader that turns ``!Tag value`` into ``{"Fn::Tag": value}`` (``!Ref`` into ``{"Ref": ...}``)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_TolerantLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """A SAM/CloudFormation YAML (or JSON) template as plain data, intrinsics kept as dicts."""
    with path.open() as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_TolerantLoader)  # a SafeLoader subclass
    return loaded


def _strings(variables: Any) -> dict[str, str]:
    """Environment values CloudFormation would pass as strings; intrinsics are dropped."""
    result: dict[str, str] = {}
    for name, value in (variables or {}).items():
        if isinstance(value, bool):
            result[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            result[name] = str(value)
    return result


def function_environment(
    template: dict[str, Any], logical_id: str, overrides: dict[str, Any] | None = None
) -> dict[str, str]:
    globals_ = ((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
    props = template["Resources"][logical_id].get("Properties") or {}
    env = _strings(globals_.get("Variables"))
    env.update(_strings((props.get("Environment") or {}).get("Variables")))
    overrides = overrides or {}
    env.update({k: str(v) for k, v in (overrides.get("Parameters") or {}).items()})
    env.update({k: str(v) for k, v in (overrides.get(logical_id) or {}).items()})
    return env


def _property(template: dict[str, Any], props: dict[str, Any], name: str, default: Any) -> Any:
    if name in props:
        return props[name]
    return ((template.get("Globals") or {}).get("Function") or {}).get(name, default)


def function_paths(template: dict[str, Any], logical_id: str, base: Path) -> list[Path]:
    """The function's code dir, then its layers' python/ dirs, as Lambda orders them on sys.path."""
    resources = template["Resources"]
    props = resources[logical_id].get("Properties") or {}
    paths = [(base / str(props["CodeUri"])).resolve()]
    for layer in _property(template, props, "Layers", []):
        if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in resources:
            content = (resources[layer["Ref"]].get("Properties") or {}).get("ContentUri")
            if isinstance(content, str):
                paths.append((base / content / "python").resolve())
                continue
        print(
            f"invoke_built: layer {layer!r} is not a local layer of this template; skipped", file=sys.stderr
        )
    return paths


_RUNNER = r"""
import importlib, json, os, sys, time, traceback, uuid
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["paths"]
if spec["runtime_path"]:
    sys.path.append(spec["runtime_path"])
result_out = sys.stdout
sys.stdout = sys.stderr  # the function's logs (Powertools writes to stdout) must not mix with the result

class LambdaContext:
    def __init__(self, spec):
        self.function_name = spec["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec["function_arn"]
        self.memory_limit_in_mb = int(spec["memory"])
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/" + spec["function_name"]
        self.log_stream_name = time.strftime("%Y/%m/%d") + "/[$LATEST]" + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(spec["timeout"])
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

try:
    module_name, _, function_name = spec["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    with open(spec["event"]) as handle:
        event = json.load(handle)
    result = handler(event, LambdaContext(spec))
    result_out.write(json.dumps(result, default=str) + "\n")
except Exception as error:
    traceback.print_exc()
    result_out.write(json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}) + "\n")
    sys.exit(1)
"""


def invoke(
    logical_id: str,
    event_file: Path,
    template_file: Path = DEFAULT_TEMPLATE,
    env_vars: dict[str, Any] | None = None,
    python: str = sys.executable,
    use_aws: bool = False,
) -> subprocess.CompletedProcess[str]:
    template = load_template(template_file)
    resources = template.get("Resources") or {}
    if logical_id not in resources or resources[logical_id].get("Type") != "AWS::Serverless::Function":
        functions = sorted(k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function")
        raise SystemExit(
            f"invoke_built: no function {logical_id!r} in {template_file}; functions: {functions}"
        )
    props = resources[logical_id].get("Properties") or {}
    base = template_file.parent
    paths = function_paths(template, logical_id, base)
    architectures = _property(template, props, "Architectures", ["x86_64"])
    host = host_architecture()
    if isinstance(architectures, list) and architectures and architectures[0] != host:
        print(build_for_host_hint(host, str(architectures[0])), file=sys.stderr)
    runtime_path = ""
    if not any((p / "boto3").is_dir() for p in paths):
        import importlib.util

        found = importlib.util.find_spec("boto3")
        if found and found.origin:
            runtime_path = str(Path(found.origin).parent.parent)

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    timeout = int(_property(template, props, "Timeout", 3))
    memory = int(_property(template, props, "MemorySize", 128))
    name = f"{logical_id}"
    env = aws_environment(use_aws)
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_SAM_LOCAL": "true",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "_HANDLER": str(props.get("Handler", "app.lambda_handler")),
            "LAMBDA_TASK_ROOT": str(paths[0]),
        }
    )
    env.update(function_environment(template, logical_id, env_vars))
    spec = {
        "paths": [str(p) for p in paths],
        "runtime_path": runtime_path,
        "handler": str(props.get("Handler", "app.lambda_handler")),
        "event": str(event_file.resolve()),
        "function_name": name,
        "function_arn": f"arn:aws:lambda:{region}:123456789012:function:{name}",
        "memory": memory,
        "timeout": timeout,
    }
    try:
        completed = subprocess.run(
            [python, "-I", "-S", "-c", _RUNNER, json.dumps(spec)],
            env=env,
            cwd=str(paths[0]),
            capture_output=True,
            text=True,
            timeout=timeout + 30,  # imports and cold start are not part of Lambda's timeout here
            check=False,
        )
        if completed.returncode != 0 and not completed.stdout.strip():
            message = {"errorType": "Runtime.ExitError", "errorMessage": f"exit code {completed.returncode}"}
            completed.stdout = json.dumps(message) + "\n"
        return completed
    except subprocess.TimeoutExpired as expired:
        message = {"errorType": "Sandbox.Timedout", "errorMessage": f"timed out after {expired.timeout} s"}
        return subprocess.CompletedProcess(
            expired.cmd, 1, json.dumps(message) + "\n", str(expired.stderr or "")
        )


def main(argv: list[str] | None = None) -> int:
    host = host_architecture()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("function", help="logical id, e.g. DiagnoseFunction")
    parser.add_argument("-e", "--event", type=Path, required=True, help="JSON event file")
    parser.add_argument(
        "-t",
        "--template",
        type=Path,
        default=default_template(host),
        help=f"built template (default: .aws-sam/build-{host}/template.yaml if built, "
        f"else {DEFAULT_TEMPLATE})",
    )
    parser.add_argument(
        "-n",
        "--env-vars",
        type=Path,
        help='SAM-style {"LogicalId": {"VAR": "value"}, "Parameters": {...}} '
        f"(default without --aws: {LOCAL_ENV_VARS.relative_to(LOCAL_ENV_VARS.parents[2])})",
    )
    parser.add_argument(
        "--aws",
        action="store_true",
        help="let the handler call AWS with your credentials (default: no AWS call can be made)",
    )
    args = parser.parse_args(argv)
    env_file = args.env_vars or (None if args.aws else LOCAL_ENV_VARS)
    overrides = json.loads(env_file.read_text()) if env_file else None
    if not args.template.is_file():
        parser.error(f"{args.template} not found: run `make build` (or `sam build`) first")
    completed = invoke(args.function, args.event, args.template, overrides, use_aws=args.aws)
    sys.stderr.write(completed.stderr)
    sys.stdout.write(completed.stdout)
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main())
