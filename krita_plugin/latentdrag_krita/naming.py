"""Layer names the plugin gives, so users can tell results, samples and helpers apart in the stack."""
from __future__ import annotations

import re

DRAG_POINTS_LAYER = "Drag points"
PREVIEW_LAYER = "Latent Drag preview"
_RESULT = re.compile(r"^Latent Drag (\d+)\b")
_SAMPLE = re.compile(r"^Latent sample (\d+)\b")


def _next_number(pattern: re.Pattern[str], existing: list[str]) -> int:
    numbers = [int(match.group(1)) for name in existing if (match := pattern.match(name))]
    return max(numbers, default=0) + 1


def result_layer_name(existing: list[str], point_count: int) -> str:
    """"Latent Drag 2 · 3 points": numbered after the highest result already in the document."""
    noun = "point" if point_count == 1 else "points"
    return f"Latent Drag {_next_number(_RESULT, existing)} · {point_count} {noun}"


def sample_layer_name(existing: list[str], seed: int, psi: float) -> str:
    """"Latent sample 1 · seed 42, ψ 0.7": the seed and psi in the name let users recreate it."""
    return f"Latent sample {_next_number(_SAMPLE, existing)} · seed {seed}, ψ {psi:g}"
