"""Where humans' true categories are kept as labelled examples (the classifier corpus's JSONL format).

In AWS one object per answer under ``answers/`` in the audit bucket (S3 has no append): gather them with
``aws s3 cp s3://BUCKET/answers/ answers --recursive`` and ``cat answers/*/*.jsonl > answers.jsonl``,
then ``scripts/train_classifier.py --extra answers.jsonl``. Locally one file, appended to.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(dict(record), ensure_ascii=False, default=str) + "\n"


class S3LabelSink:
    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self.client = client or boto3.client("s3")

    def append(self, record: Mapping[str, Any]) -> None:
        incident = str(record.get("source", "human:unknown")).removeprefix("human:")
        key = f"answers/{incident}/{time.time_ns()}.jsonl"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=_line(record).encode())


class FileLabelSink:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(_line(record))
