"""The learned fallback: L2-regularised multinomial logistic regression over hashed tokens.

Trained by ``scripts/train_classifier.py`` (diagnosis/training.py does the fitting) and shipped as
``model.npz`` next to this module: float16 weights (N_FEATURES x 10), the bias, the calibration
temperature and the decision thresholds. numpy is imported lazily and the file is read once, on the
first log that reaches the model, so importing the Diagnose step does not pay for it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfheal_core.classification.features import N_FEATURES
from selfheal_core.vocabulary import CATEGORIES, Category

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MODEL_FILE = Path(__file__).with_name("model.npz")
FORMAT = 1
NEVER = 1.01  # a threshold no probability reaches


@dataclass(frozen=True)
class Policy:
    """When the model's calibrated top probability is enough to act, per situation (see layers.py).

    answer: the other layers gave no decision (no hit, conflicting or weak hits).
    switch: a signature named an auto-remediated category, the model's top is another one.
    veto:   a signature named an auto-remediated category, the model's top needs a human.
    unlock: only a weak human-only signature hit, the model's top is an auto-remediated category.
    Chosen by minimising the cost matrix on out-of-fold predictions (training.choose_policy).
    """

    answer: float = NEVER
    switch: float = NEVER
    veto: float = NEVER
    unlock: float = NEVER


@dataclass(frozen=True)
class Model:
    weights: NDArray[np.float32]  # (N_FEATURES, len(CATEGORIES))
    bias: NDArray[np.float32]  # (len(CATEGORIES),)
    temperature: float = 1.0
    policy: Policy = field(default_factory=Policy)
    info: dict[str, Any] = field(default_factory=dict)  # how it was trained (for the record only)

    def probabilities(self, indices: Sequence[int], values: Sequence[float]) -> NDArray[np.float64]:
        """Calibrated class probabilities (in CATEGORIES order) of one sparse feature vector."""
        import numpy as np

        idx = np.asarray(indices, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64)
        logits = self.bias.astype(np.float64) + vals @ self.weights[idx].astype(np.float64)
        return softmax(logits / self.temperature)

    def predict(self, indices: Sequence[int], values: Sequence[float]) -> tuple[Category, float]:
        probs = self.probabilities(indices, values)
        top = int(probs.argmax())
        return CATEGORIES[top], float(probs[top])


def softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    import numpy as np

    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: NDArray[np.float64] = exp / exp.sum(axis=-1, keepdims=True)
    return result


def save(model: Model, path: Path = MODEL_FILE) -> None:
    """Write the model; the bytes depend only on the model (no timestamps), so retraining on the
    same data gives the same file."""
    import numpy as np

    meta = {
        "format": FORMAT,
        "classes": [c.value for c in CATEGORIES],
        "n_features": N_FEATURES,
        "temperature": model.temperature,
        "policy": asdict(model.policy),
        "info": model.info,
    }
    with path.open("wb") as handle:
        np.savez_compressed(
            handle,
            weights=model.weights.astype(np.float16),
            bias=model.bias.astype(np.float32),
            meta=np.array(json.dumps(meta, sort_keys=True)),
        )


def load(path: Path = MODEL_FILE) -> Model:
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        weights = data["weights"].astype(np.float32)
        bias = data["bias"].astype(np.float32)
    if meta.get("format") != FORMAT or meta.get("classes") != [c.value for c in CATEGORIES]:
        raise ValueError(f"{path}: model format or classes do not match this code; retrain it")
    if weights.shape != (N_FEATURES, len(CATEGORIES)):
        raise ValueError(f"{path}: weights have shape {weights.shape}; retrain the model")
    temperature = float(meta["temperature"])
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"{path}: bad temperature {temperature}")
    return Model(weights, bias, temperature, Policy(**meta["policy"]), dict(meta.get("info", {})))


@functools.cache
def shipped_model() -> Model | None:
    """The packaged model, read once; None when it is absent (then the model layer is off)."""
    return load(MODEL_FILE) if MODEL_FILE.exists() else None
