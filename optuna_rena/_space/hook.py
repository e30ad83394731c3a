"""The hook between an architecture space and a sampler that wants to know it."""

from __future__ import annotations

from typing import Protocol
from typing import runtime_checkable
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from optuna_rena._space.space import ArchitectureSpace


@runtime_checkable
class SpaceAwareSampler(Protocol):
    """A sampler that reads the :class:`~optuna_rena.ArchitectureSpace` it searches.

    Before its first decision on a trial, :meth:`ArchitectureSpace.suggest` calls
    ``attach_space(space)`` on the study's sampler when the sampler has that method. The
    sampler may then read the space's public interface: ``signature_with_budget()``,
    ``layer_tokens()``, ``context(name, choices, params)``, ``decisions()``,
    ``analytic_violations(child)`` and ``constraints``. :class:`~optuna_rena.RenaSampler`
    is one; a wrapper around a sampler (for timing, logging) forwards the call.
    """

    def attach_space(self, space: ArchitectureSpace) -> None:
        """Called by ``space.suggest(trial)`` before the trial's first decision."""
