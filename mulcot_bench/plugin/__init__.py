"""What a plugin author imports: ``from mulcot_bench.plugin import hookimpl, ModelSpec, ModelCard, ...``.

The one public surface of the plugin API, in the style of ``llm``'s and ``tox``'s plugin facades. Importing
it is cheap (pluggy and dataclasses only); :func:`check_model` loads its module on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mulcot_bench.errors import ModelUnavailable, UserError
from mulcot_bench.hookspecs import hookimpl
from mulcot_bench.labels import LABELS
from mulcot_bench.specs import DatasetSpec, MetricSpec, ModelSpec
from mulcot_bench.types import FitContext, Model, ModelCard, Prediction, Sample, Splits

if TYPE_CHECKING:
    from mulcot_bench.contract import check_model


class Register(Protocol):
    """The callback each ``register_*`` hook receives: call it once per spec."""

    def __call__(self, spec: ModelSpec | DatasetSpec | MetricSpec) -> None: ...


__all__ = [
    "LABELS",
    "DatasetSpec",
    "FitContext",
    "MetricSpec",
    "Model",
    "ModelCard",
    "ModelSpec",
    "ModelUnavailable",
    "Prediction",
    "Register",
    "Sample",
    "Splits",
    "UserError",
    "check_model",
    "hookimpl",
]


def __getattr__(name: str) -> Callable[..., Any]:
    if name == "check_model":  # imports the contract check (and the pipeline) only when asked for
        from mulcot_bench.contract import check_model

        return check_model
    raise AttributeError(f"module 'mulcot_bench.plugin' has no attribute {name!r}")
