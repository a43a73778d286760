"""A realistic synthetic fraud-model stream, for the demo, the benchmarks and the tests.

Features: ``amount`` (log-normal), ``age`` (integer), ``tenure_days`` (with missing values),
``country`` and ``device`` (categorical), ``merchant`` (high cardinality). The model score is a
logistic function of the features; the label is drawn from the true risk. ``shift`` moves the
``amount`` distribution and the ``country`` mix (covariate drift); ``flip`` inverts the
labelling rule (concept drift: the same inputs, different labels).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

COUNTRIES = ("DE", "FR", "GB", "US", "ES", "IT", "NL", "PL")
COUNTRY_P = np.array([0.25, 0.18, 0.15, 0.14, 0.1, 0.08, 0.06, 0.04])
SHIFTED_COUNTRY_P = np.array([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3])
DEVICES = ("ios", "android", "web")
FEATURES = ("amount", "age", "tenure_days", "country", "device", "merchant")


@dataclass(frozen=True)
class Columns:
    """A block of synthetic rows as columns."""

    amount: np.ndarray
    age: np.ndarray
    tenure_days: np.ndarray
    country: np.ndarray
    device: np.ndarray
    merchant: np.ndarray
    score: np.ndarray
    label: np.ndarray


def columns(n: int, seed: int, *, shift: float = 0.0, flip: bool = False) -> Columns:
    """``n`` rows; ``shift`` in [0, 1] scales the covariate drift, ``flip`` the concept change."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(mean=3.5 + 0.8 * shift, sigma=1.0, size=n).round(2)
    age = rng.normal(41, 12, size=n).clip(18, 90).round()
    tenure = rng.exponential(400, size=n).round()
    tenure[rng.random(n) < 0.03] = np.nan
    p = (1 - shift) * COUNTRY_P + shift * SHIFTED_COUNTRY_P
    country = rng.choice(np.array(COUNTRIES), size=n, p=p / p.sum())
    device = rng.choice(np.array(DEVICES), size=n, p=[0.4, 0.35, 0.25])
    merchant = np.char.add("m", rng.zipf(1.6, size=n).clip(1, 2000).astype(str))
    z = 0.9 * (np.log(amount) - 3.5) - 0.02 * (age - 41) + 0.5 * (device == "web") - 2.2
    risk = 1 / (1 + np.exp(-z))
    score = (risk + rng.normal(0, 0.03, n)).clip(0, 1).round(4)
    truth = rng.random(n) < risk
    label = (~truth if flip else truth).astype(np.int64)
    return Columns(amount, age, tenure, country, device, merchant, score, label)


def events(
    n: int,
    seed: int,
    *,
    shift: float = 0.0,
    flip: bool = False,
    start_ms: int = 1_700_000_000_000,
    id_prefix: str = "r",
    first_id: int = 0,
) -> Iterator[dict[str, Any]]:
    """JSON-ready prediction events (one per row), 10 ms apart in event time."""
    c = columns(n, seed, shift=shift, flip=flip)
    for i in range(n):
        tenure = c.tenure_days[i]
        yield {
            "request_id": f"{id_prefix}{first_id + i}",
            "ts": start_ms + 10 * (first_id + i),
            "model": "fraud-v3",
            "features": {
                "amount": float(c.amount[i]),
                "age": int(c.age[i]),
                "tenure_days": None if np.isnan(tenure) else int(tenure),
                "country": str(c.country[i]),
                "device": str(c.device[i]),
                "merchant": str(c.merchant[i]),
            },
            "score": float(c.score[i]),
            "label": int(c.label[i]),
        }
