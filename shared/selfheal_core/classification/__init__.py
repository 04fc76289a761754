"""Diagnosis helpers: the error-log classifier (signatures as data) and the metrics that measure it."""

from selfheal_core.classification.classifier import (
    Classification,
    Classifier,
    Signature,
    SignatureError,
    classify,
    load_signatures,
)

__all__ = [
    "Classification",
    "Classifier",
    "Signature",
    "SignatureError",
    "classify",
    "load_signatures",
]
