"""The size cost of shipping compiled bytecode in the build output (issue 11), after ``make build``.

    make build && .venv/bin/python benchmarks/bench_build_size.py [--json]

For the shared layer and the functions in ``.aws-sam/build``: the unzipped size and the deflated (zip) size
with and without the ``__pycache__`` folders ``make build`` adds, which is what Lambda would download and
unpack (limits: 250 MB unzipped for a function and its layers, 50 MB zipped for a direct upload).
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"


def _files(folder: Path, with_bytecode: bool) -> list[Path]:
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and (with_bytecode or ("__pycache__" not in p.parts and p.suffix != ".pyc"))
    ]


def _zipped(folder: Path, files: list[Path]) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(folder))
    return buffer.tell()


def measure(folder: Path) -> dict[str, float]:
    mib = 2**20
    sources, everything = _files(folder, False), _files(folder, True)
    return {
        "unzipped_mib": round(sum(p.stat().st_size for p in sources) / mib, 1),
        "unzipped_with_bytecode_mib": round(sum(p.stat().st_size for p in everything) / mib, 1),
        "zipped_mib": round(_zipped(folder, sources) / mib, 1),
        "zipped_with_bytecode_mib": round(_zipped(folder, everything) / mib, 1),
        "pyc_files": sum(1 for p in everything if p.suffix == ".pyc"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not BUILD.is_dir():
        raise SystemExit("no .aws-sam/build: run `make build` first")
    layer = measure(BUILD / "SharedLayer")
    functions = [measure(p) for p in sorted(BUILD.iterdir()) if p.is_dir() and p.name.endswith("Function")]
    total = {k: round(sum(f[k] for f in functions), 1) for k in functions[0]} if functions else {}
    result = {"layer": layer, "functions_total": total}
    if args.json:
        print(json.dumps(result))
        return
    for name, row in result.items():
        print(
            f"{name:<16} unzipped {row['unzipped_mib']} -> {row['unzipped_with_bytecode_mib']} MiB, "
            f"zipped {row['zipped_mib']} -> {row['zipped_with_bytecode_mib']} MiB "
            f"({row['pyc_files']} .pyc files)"
        )


if __name__ == "__main__":
    main()
