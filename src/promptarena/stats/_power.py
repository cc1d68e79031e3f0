"""Power of the paired tests: the smallest difference a comparison's cases detect, and the cases a difference needs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from promptarena.stats._descriptive import NAN

if TYPE_CHECKING:
    import numpy as np

POWER = 0.8
"""The power at which a comparison sizes the differences its cases can detect."""


def _min_count(level: float) -> int:
    """The fewest signs (discordant cases) an exact two-sided sign test needs to reject: 2 * 0.5^k < level."""
    return math.floor(1 - math.log2(level)) + 1  # log2(2 / level), finite for any level above 0


def _root(fn: Callable[[float], float], low: float, high: float) -> float:
    """The root of an increasing ``fn`` with ``fn(low) <= 0 <= fn(high)``, by bisection to float precision.

    Used instead of ``scipy.optimize.brentq`` only to spare a summarizing run that module's import.
    """
    for _ in range(200):
        mid = (low + high) / 2
        if mid in (low, high):
            break
        low, high = (mid, high) if fn(mid) < 0 else (low, mid)
    return (low + high) / 2


def mcnemar_power(n: int, discordant: int, diff: float, level: float, min_cases: int) -> tuple[float, int | None]:
    """Connor's (1987) normal approximation for McNemar: n = (z_a sqrt(psi) + z_b sqrt(psi - d^2))^2 / d^2.

    psi is the observed share of discordant cases. Returns the smallest |difference| detectable with 80%
    power at these n and psi (``inf`` if none, NaN without discordant cases) and the cases that would detect
    the observed one, never fewer than the exact test needs to reject at all (``_min_count`` discordant).
    """
    if n == 0 or discordant == 0:
        return NAN, None
    from scipy import special

    psi = discordant / n
    za, zb = float(-special.ndtri(level / 2)), float(special.ndtri(POWER))  # the upper tail, exact however small

    def gap(delta: float) -> float:
        return math.sqrt(n) * delta - za * math.sqrt(psi) - zb * math.sqrt(max(psi - delta * delta, 0.0))

    detectable = math.inf
    if discordant >= _min_count(level) and gap(psi) >= 0:
        detectable = _root(gap, 0.0, psi)
    delta = abs(diff)
    if delta == 0:
        return detectable, None
    needed = (za * math.sqrt(psi) + zb * math.sqrt(psi - delta * delta)) ** 2 / delta**2
    if not math.isfinite(needed):  # a difference so close to 0 that no count of cases is a finite number
        return detectable, None
    return detectable, max(math.ceil(needed), math.ceil(_min_count(level) / psi), min_cases)


def continuous_power(d: np.ndarray, level: float, min_cases: int) -> tuple[float, int | None]:
    """Paired normal approximation: detectable = (z_a + z_b) * sd(d) / sqrt(n), n = ((z_a + z_b) sd / diff)^2.

    Never fewer cases than the exact sign-flip test needs to reject at all (``_min_count``).
    """
    import numpy as np

    n = d.size
    if n < 2:
        return NAN, None
    from scipy import special

    z = float(-special.ndtri(level / 2) + special.ndtri(POWER))
    sd = float(np.std(d, ddof=1))
    detectable = float(z * sd / math.sqrt(n)) if n >= _min_count(level) else math.inf
    delta = abs(float(d.mean()))
    if delta == 0:
        return detectable, None
    try:
        needed = math.ceil((z * sd / delta) ** 2)
    except OverflowError:  # a difference so close to 0 that no count of cases is a finite number
        return detectable, None
    return detectable, max(needed, _min_count(level), min_cases)
