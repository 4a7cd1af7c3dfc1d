"""What a plugin author imports: ``from mulcot_bench.plugin import hookimpl, ModelSpec, ModelCard, ...``.

The one public surface of the plugin API, in the style of ``llm``'s and ``tox``'s plugin facades: the hook
marker, the spec classes, the data a model sees and returns, the labels, the five-field chain helpers,
the errors a model may raise, progress and logging (:func:`fit_reporter`, :func:`get_logger`) and the
contract check. Importing it is cheap (pluggy and dataclasses only);
:func:`check_model`, :class:`Registry`, and :class:`Metric` / :class:`SampleScores` (for a metric plugin)
load their modules on first use.

The rest of this package is the machinery behind it: ``hookspecs`` (the three hooks), ``specs``,
``loading`` (finding and loading plugins), ``registry``, ``contract`` and ``doctor`` (checks), ``testing``
(the pytest kit), ``scaffold`` and ``templates/`` (``mulcot-bench plugins new``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from mulcot_bench.console.fit import FitReporter, fit_reporter
from mulcot_bench.console.logs import get_logger
from mulcot_bench.errors import ModelUnavailable, UserError
from mulcot_bench.labels import LABELS, check_label
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import DatasetSpec, MetricSpec, ModelSpec
from mulcot_bench.rationale import FIELDS, parse, parse_label, render_chain
from mulcot_bench.types import FitContext, Model, ModelCard, Prediction, Sample, Splits

if TYPE_CHECKING:
    from mulcot_bench.plugin.contract import check_model
    from mulcot_bench.plugin.registry import Registry
    from mulcot_bench.scoring.metric import Metric, SampleScores

#: names loaded on first use (their modules import numpy or the pipeline)
_LAZY = {
    "check_model": "mulcot_bench.plugin.contract",
    "Registry": "mulcot_bench.plugin.registry",
    "Metric": "mulcot_bench.scoring.metric",
    "SampleScores": "mulcot_bench.scoring.metric",
}


class Register(Protocol):
    """The callback each ``register_*`` hook receives: call it once per spec."""

    def __call__(self, spec: ModelSpec | DatasetSpec | MetricSpec) -> None: ...


__all__ = [
    "FIELDS",
    "LABELS",
    "DatasetSpec",
    "FitContext",
    "FitReporter",
    "Metric",
    "MetricSpec",
    "Model",
    "ModelCard",
    "ModelSpec",
    "ModelUnavailable",
    "Prediction",
    "Register",
    "Registry",
    "Sample",
    "SampleScores",
    "Splits",
    "UserError",
    "check_label",
    "check_model",
    "fit_reporter",
    "get_logger",
    "hookimpl",
    "parse",
    "parse_label",
    "render_chain",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mulcot_bench.plugin' has no attribute {name!r}")
