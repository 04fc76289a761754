"""The cost model prices counted usage with the shipped list prices (selfheal/costmodel.py)."""

from __future__ import annotations

import json

import pytest

from selfheal.costmodel import PRICES, Prices, Usage, dynamodb_units, monthly, price
from selfheal.errors import UsageError


def test_the_price_file_names_its_date_region_and_sources() -> None:
    data = json.loads(PRICES.read_text())
    assert data["region"] == "us-east-1" and data["as_of"]
    assert "https://aws.amazon.com/step-functions/pricing/" in data["sources"]["step_functions"]
    assert Prices.load()["step_functions_per_transition"] == pytest.approx(0.025 / 1000)


def test_each_component_is_priced_from_its_count() -> None:
    usage = Usage(
        transitions=40,
        invocations={"Diagnose": 1, "Validate": 4},
        gb_seconds=2.0,
        calls={"s3:PutObject": 10, "sns:Publish": 2, "dynamodb:PutItem": 8, "dynamodb:Query": 3},
    )
    prices = Prices.load()
    costs = price(usage, prices)
    assert costs["step_functions"] == pytest.approx(40 * 0.000025)
    assert costs["lambda"] == pytest.approx(5 * 0.0000002 + 2.0 * 0.0000133334)
    assert costs["s3"] == pytest.approx(10 * 0.000005)
    assert costs["sns"] == pytest.approx(2 * 0.0000005)
    assert dynamodb_units(usage, prices) == (6.0, 8.0)  # a Query is 2 read units
    assert costs["total"] == pytest.approx(sum(v for k, v in costs.items() if k != "total"))
    assert monthly(costs["total"], 1000) == pytest.approx(costs["total"] * 1000)


def test_an_unpriced_call_is_a_clear_error_not_a_silent_zero() -> None:
    usage = Usage(transitions=0, invocations={}, gb_seconds=0.0, calls={"dynamodb:UpdateItem": 1})
    with pytest.raises(UsageError, match="UpdateItem"):
        price(usage, Prices.load())


def test_a_price_file_missing_a_price_is_refused() -> None:
    with pytest.raises(UsageError, match="s3_per_put"):
        Prices.load(
            json.dumps({k: v for k, v in json.loads(PRICES.read_text()).items() if k != "s3_per_put"})
        )
