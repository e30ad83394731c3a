"""What a user names as ``module:attribute`` on the command line (an objective, a
sampler class), imported."""

from __future__ import annotations

import importlib
from typing import Any


def import_named(name: str, what: str) -> Any:
    """The attribute that ``module:attribute`` names.

    Raises:
        ValueError: ``cannot import the {what} {name!r}: ...``, with the import's reason.
    """
    module, _, attribute = name.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot import the {what} {name!r}: {e}") from None
