"""What an incident costs at AWS list prices: usage counted on the local engine, priced from a data file.

Pure: ``Usage`` is what one incident path did (state transitions, Lambda invocations and GB-seconds, AWS
calls by ``service:Operation``); ``Prices`` is ``data/prices.json`` (list prices with their date, region
and sources); ``price`` turns one into dollars per component. ``selfheal cost`` measures the usage
(``selfheal.local.usage``) and prints these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfheal.errors import UsageError

PRICES = Path(__file__).resolve().parent / "data" / "prices.json"
COMPONENTS = ("step_functions", "lambda", "dynamodb", "s3", "sns", "cloudwatch_logs")


@dataclass(frozen=True)
class Usage:
    transitions: int
    invocations: Mapping[str, int]  # function -> invocations
    gb_seconds: float
    calls: Mapping[str, int] = field(default_factory=dict)  # "service:Operation" -> successful calls

    def count(self, prefix: str) -> int:
        return sum(n for key, n in self.calls.items() if key.startswith(prefix))

    def to_json(self) -> dict[str, Any]:
        return {
            "transitions": self.transitions,
            "invocations": dict(self.invocations),
            "lambda_invocations": sum(self.invocations.values()),
            "gb_seconds": round(self.gb_seconds, 6),
            "calls": dict(sorted(self.calls.items())),
        }


@dataclass(frozen=True)
class Prices:
    data: Mapping[str, Any]

    @classmethod
    def load(cls, text: str | None = None) -> Prices:
        if text is None:
            text = PRICES.read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"the price file is not JSON: {error}") from error
        missing = [
            k
            for k in (
                "as_of",
                "region",
                "step_functions_per_transition",
                "lambda_per_request",
                "lambda_per_gb_second",
                "dynamodb_per_write_unit",
                "dynamodb_per_read_unit",
                "s3_per_put",
                "sns_per_publish",
                "dynamodb_units_per_call",
            )
            if k not in data
        ]
        if missing:
            raise UsageError(f"the price file lacks {', '.join(missing)}")
        return cls(data)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def dynamodb_units(usage: Usage, prices: Prices) -> tuple[float, float]:
    """(read units, write units) from the DynamoDB calls and the assumed units per call."""
    reads = writes = 0.0
    per_call: Mapping[str, Mapping[str, float]] = prices["dynamodb_units_per_call"]
    for key, n in usage.calls.items():
        service, _, operation = key.partition(":")
        if service != "dynamodb":
            continue
        units = per_call.get(operation)
        if units is None:
            raise UsageError(f"the price file has no request units for dynamodb:{operation}")
        reads += n * float(units.get("read", 0))
        writes += n * float(units.get("write", 0))
    return reads, writes


def price(usage: Usage, prices: Prices) -> dict[str, float]:
    """Dollars per component, and the total."""
    reads, writes = dynamodb_units(usage, prices)
    costs = {
        "step_functions": usage.transitions * prices["step_functions_per_transition"],
        "lambda": sum(usage.invocations.values()) * prices["lambda_per_request"]
        + usage.gb_seconds * prices["lambda_per_gb_second"],
        "dynamodb": reads * prices["dynamodb_per_read_unit"] + writes * prices["dynamodb_per_write_unit"],
        "s3": usage.count("s3:PutObject") * prices["s3_per_put"],
        "sns": usage.count("sns:Publish") * prices["sns_per_publish"],
        "cloudwatch_logs": usage.count("logs:") * float(prices.data.get("cloudwatch_logs_per_call", 0.0)),
    }
    costs["total"] = sum(costs.values())
    return costs


def monthly(per_incident: float, failures: int) -> float:
    return per_incident * failures
