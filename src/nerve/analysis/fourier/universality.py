"""Universality across runs (Chughtai, Chan & Nanda 2023): how often each irrep is key over a
sweep's runs, by the Fourier analysis' neuron rule and by its share of the final logits, and the
order in which each run learned its irreps. Read from a sweep's rows (``nerve.sweep.summary``):
``{"analysis": "fourier" | "learning_order", "result": {...}, ...}``, each result the JSON of a
:class:`~nerve.analysis.FourierResult` or :class:`~nerve.analysis.LearningOrderResult` (rows of
sweeps before rows were results hold the key irreps' labels instead; both read).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nerve.errors import AnalysisError

__all__ = ["LOGIT_KEY", "key_irrep_counts", "key_labels", "learning_orders", "logit_key_counts"]


def _most_first(counts: dict[str, int]) -> dict[str, int]:
    """The counts, most frequent first, ties by label."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def key_labels(result: dict[str, Any]) -> list[str]:
    """The key irreps' labels in a sweep's "fourier" row: a :class:`FourierResult`'s JSON (key
    irreps by index), or a row of a sweep before rows were results (labels, no ``"format"``).

    >>> key_labels({"format": "nerve-fourier/1", "irreps": ["k=0", "k=1", "k=2"], "key_irreps": [2]})
    ['k=2']
    >>> key_labels({"key_irreps": ["[4,1]"]}), key_labels({"skipped": "no group"})
    (['[4,1]'], [])
    """
    if "format" in result:
        return [result["irreps"][i] for i in result["key_irreps"]]
    return list(result.get("key_irreps", []))


def key_irrep_counts(table: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Universality across runs (Chughtai et al. 2023): in how many runs each irrep is key, from
    the sweep's "fourier" rows, most frequent first.

    >>> row = {"analysis": "fourier", "result": {"format": "nerve-fourier/1", "irreps": ["[4,1]", "sign"]}}
    >>> key_irrep_counts([{**row, "result": {**row["result"], "key_irreps": [1, 0]}},
    ...                   {**row, "result": {**row["result"], "key_irreps": [1]}}])
    {'sign': 2, '[4,1]': 1}
    """
    counts: dict[str, int] = {}
    for r in table:
        if r["analysis"] == "fourier":
            for label in key_labels(r["result"]):
                counts[label] = counts.get(label, 0) + 1
    return _most_first(counts)


#: The second rule of key: an irrep that carries at least this share of the final logits' variance
#: along its character (the first is the Fourier analysis' neuron rule).
LOGIT_KEY = 0.05


def logit_key_counts(table: Sequence[dict[str, Any]], threshold: float = LOGIT_KEY) -> dict[str, int]:
    """In how many runs each irrep carries at least `threshold` of the final logit variance, from
    the sweep's "learning_order" rows (the last checkpoint's fractions), most frequent first.

    >>> row = {"analysis": "learning_order",
    ...        "result": {"irreps": ["a", "b", "c"], "logit_fractions": [[0, 0, 0], [0.5, 0.04, 0.2]]}}
    >>> logit_key_counts([row, row])
    {'a': 2, 'c': 2}
    """
    if not 0 < threshold <= 1:
        raise AnalysisError(f"`threshold` (={threshold!r}) must be a share of variance in (0, 1].")
    counts: dict[str, int] = {}
    for r in table:
        if r["analysis"] == "learning_order" and "logit_fractions" in r["result"]:
            res = r["result"]
            for label, share in zip(res["irreps"], res["logit_fractions"][-1]):
                if share >= threshold:
                    counts[label] = counts.get(label, 0) + 1
    return _most_first(counts)


def learning_orders(table: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each run with a "learning_order" row: its seed, final key irreps, the order in which it
    learned them and the step of each (see :mod:`nerve.analysis.fourier.learning_order`), by seed.

    >>> row = {"run_id": "r0", "analysis": "learning_order", "config": {"seed": 3},
    ...        "result": {"key_irreps": [["a"], ["a", "b"]], "order": ["b", "a"],
    ...                   "learned_at": {"a": 20, "b": 10}, "key_from": {"a": 10, "b": 20}}}
    >>> learning_orders([row])[0]["order"]
    ['b', 'a']
    """
    out = []
    for r in table:
        if r["analysis"] == "learning_order" and "order" in r["result"]:
            res = r["result"]
            out.append({
                "run_id": r["run_id"], "seed": r["config"].get("seed"), "key_irreps": res["key_irreps"][-1],
                "order": res["order"], "learned_at": res["learned_at"], "key_from": res["key_from"],
            })  # fmt: skip
    return sorted(out, key=lambda o: (o["seed"] is None, o["seed"], o["run_id"]))
