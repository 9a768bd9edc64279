"""Helpers shared by every benchmark: Django set-up, a best-of-N rate, an interleaved A/B
comparison, and one line of report per figure.

Figures are best-of-N, as `timeit` recommends: noise (other processes, frequency scaling) only
ever makes a run slower, so the fastest run is the closest to what the code itself costs.
"""

from __future__ import annotations

import gc
import itertools
import os
import time
from collections.abc import Callable
from typing import Any

Result = dict[str, Any]


def setup_django() -> None:
    """Configure Django for a standalone benchmark (idempotent). Uses the environment's
    settings: the dev Redis (db 0) and database unless the environment says otherwise."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _batch_size(fn: Callable[[], object], *, target_seconds: float = 0.02) -> int:
    """Calls per batch so one batch takes about `target_seconds` (timer overhead stays < 0.1%)."""
    batch = 1
    while True:
        started = time.perf_counter()
        for _ in itertools.repeat(None, batch):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed >= target_seconds / 10 or batch >= 1 << 24:
            return max(1, int(batch * target_seconds / max(elapsed, 1e-9)))
        batch *= 10


def rate(fn: Callable[[], object], *, seconds: float = 1.0, repeat: int = 5) -> float:
    """Best-of-`repeat` calls per second of `fn()`, each run calling it in a tight loop, in
    batches, for about `seconds`. The garbage collector is off while timing, as in `timeit`.
    The loop's own cost (~15 ns a call) is included, the same for every function measured."""
    if seconds <= 0 or repeat < 1:
        raise ValueError("seconds must be > 0 and repeat >= 1")
    batch = _batch_size(fn)
    best = 0.0
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            calls = 0
            started = time.perf_counter()
            deadline = started + seconds
            while True:
                for _ in itertools.repeat(None, batch):
                    fn()
                calls += batch
                now = time.perf_counter()
                if now >= deadline:
                    break
            best = max(best, calls / (now - started))
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def interleaved_rates(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    *,
    seconds: float = 0.5,
    rounds: int = 5,
) -> tuple[float, float]:
    """Best calls/s of `ours` and of `baseline`, measured in alternating runs (ours, baseline,
    ours, ...) so a burst of noise hurts both sides instead of one."""
    best_ours = best_baseline = 0.0
    for _ in range(rounds):
        best_ours = max(best_ours, rate(ours, seconds=seconds, repeat=1))
        best_baseline = max(best_baseline, rate(baseline, seconds=seconds, repeat=1))
    return best_ours, best_baseline


def report(
    name: str,
    ours: float,
    baseline: float,
    unit: str,
    baseline_name: str,
    higher_is_better: bool = True,
    *,
    goal: float | None = None,
) -> Result:
    """Print one line (our figure, the baseline's, the ratio) and return it as a dict.

    `ratio` is always "times better than the baseline": ours/baseline when higher is better
    (throughput), baseline/ours when lower is better (latency). `goal` is the minimum ratio we
    promise; `met` is None when there is no goal.
    """
    if ours <= 0 or baseline <= 0:
        raise ValueError("figures must be positive")
    ratio = ours / baseline if higher_is_better else baseline / ours
    met = None if goal is None else ratio >= goal
    verdict = "" if goal is None else f"  (goal >= {goal:.1f}x: {'met' if met else 'MISSED'})"
    print(
        f"{name}: {figure(ours)} {unit} vs {baseline_name} {figure(baseline)} {unit}"
        f" -> {ratio:.3f}x{verdict}"
    )
    return {
        "name": name,
        "ours": ours,
        "baseline": baseline,
        "unit": unit,
        "baseline_name": baseline_name,
        "higher_is_better": higher_is_better,
        "ratio": ratio,
        "goal": goal,
        "met": met,
    }


def figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"
