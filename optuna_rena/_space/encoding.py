"""The space as RENA's policy reads it: tokens for each baseline layer and, for each
decision, what it is about.

A token is a string such as ``type=conv2d``, ``conv2d.filters=64``, ``scale.filters`` or
``scale.filters=1.5``; the policy hashes tokens into one embedding table, so any space
works without new output heads.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optuna_rena._space.edits import EditRules


@dataclass(frozen=True)
class DecisionContext:
    """What one decision is about: the baseline layer (or ``None``), a token for the kind
    of decision, a token per choice, and per choice the layer it points at (or ``None``).

    :meth:`ArchitectureSpace.context` gives it for the space's decisions; a sampler makes
    its own for parameters that are not architecture decisions.
    """

    layer: int | None
    key: str
    choice_tokens: tuple[str, ...]
    choice_layers: tuple[int | None, ...]


def layer_tokens(rules: EditRules) -> list[list[str]]:
    """Per baseline layer: its type, whether it may be edited, each hyperparameter's value
    and its output width."""
    base = rules.baseline
    out = []
    for i, layer in enumerate(base.layers):
        tokens = [f"type={layer.type}", f"editable={i in rules.editable}"]
        tokens += [f"{layer.type}.{hp}={v}" for hp, v in layer.hyperparameters().items()]
        tokens.append(f"out_width={base.shapes[i + 1][0]}")
        out.append(tokens)
    return out


def insert_position_key(name: str) -> str | None:
    """For a decision of insert slot ``k`` (``I{k}.*``), the name of its position
    decision, which changes what the decision is about; else ``None``."""
    return f"{name.partition('.')[0]}.position" if name[:1] == "I" else None


def decision_context(rules: EditRules, name: str, choices: Sequence[Any],
                     params: Mapping[str, Any]) -> DecisionContext | None:
    """The context of decision ``name`` given the ``params`` decided so far; ``None`` for
    a name that is not one of the space's decisions."""
    head, _, rest = name.partition(".")
    if len(head) < 2 or head[0] not in "LI" or not head[1:].isdigit() or not rest:
        return None
    index = int(head[1:])
    if head[0] == "L":
        if index >= len(rules.baseline.layers):
            return None
        key = rest if rest in ("remove", "variant") else f"scale.{rest}"
        return DecisionContext(index, key, tuple(f"{key}={c}" for c in choices),
                               (None,) * len(choices))
    if rest == "position":
        layers = tuple(c if isinstance(c, int) and c >= 0 else None for c in choices)
        return DecisionContext(None, "insert.position",
                               tuple(f"insert.position={c}" for c in choices), layers)
    position = params.get(f"I{index}.position")
    layer = position if isinstance(position, int) and position >= 0 else None
    key = "insert.type" if rest.startswith("type.") else f"insert.{rest}"
    return DecisionContext(layer, key, tuple(f"{key}={c}" for c in choices),
                           (None,) * len(choices))
