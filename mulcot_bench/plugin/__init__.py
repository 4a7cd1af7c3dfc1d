"""What a plugin author imports: ``from mulcot_bench.plugin import hookimpl, ModelSpec, ModelCard, ...``.

The one public surface of the plugin API, in the style of ``llm``'s and ``tox``'s plugin facades: the hook
marker, the spec classes, the data a model sees and returns, the labels, the five-field chain helpers,
the errors a model may raise, progress and logging (:func:`fit_reporter`, :func:`get_logger`) and the
contract check. Importing it is cheap (pluggy and dataclasses only); the rest loads its module on first use:
:func:`check_model` and :class:`Registry` (tests, and models given the run's registry), :class:`Metric` /
:class:`SampleScores` (a metric plugin), files (:func:`write_text`, :func:`write_bytes`, :func:`file_sha256`),
folders (:func:`default_cache_dir`, :func:`default_data_root`), prompts (:func:`render_prompt`,
:func:`template_hash`, :func:`prompt_digests`, ``LEVELS``), what a model was asked (:func:`prompt_ref`,
:func:`render_ref`, :func:`asked_prompts`, :func:`asked_input`: see ``docs/plugins.md``), :func:`macro_f1`,
dataset files (:func:`read_text`, :func:`read_rationales`), the embedded dataset's module ``synthetic``, and
:func:`count_torch_parameters` (for a model's optional ``parameter_counts()``: see ``docs/plugins.md``).
What a model trains with is the sub-facade :mod:`mulcot_bench.plugin.training`.

Besides ``training`` (that sub-facade), the rest of this package is the machinery behind it: ``hookspecs``
(the three hooks), ``specs``, ``loading`` (finding and loading plugins), ``registry``, ``contract`` and
``doctor`` (checks), ``testing`` (the pytest kit), ``scaffold`` and ``templates/`` (``mulcot-bench plugins new``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from mulcot_bench.console.fit import FitReporter, fit_reporter
from mulcot_bench.console.logs import get_logger
from mulcot_bench.errors import ModelUnavailable, UserError
from mulcot_bench.labels import LABELS, check_label
from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import DatasetSpec, MetricSpec, ModelSpec
from mulcot_bench.rationale import FIELDS, label_parser, parse, parse_label, parse_label_released, render_chain
from mulcot_bench.types import FitContext, Model, ModelCard, Prediction, Role, Sample, Splits

if TYPE_CHECKING:
    from mulcot_bench.atomic import file_sha256, write_bytes, write_text
    from mulcot_bench.data import synthetic
    from mulcot_bench.data.rationales import read_rationales
    from mulcot_bench.data.text import read_text
    from mulcot_bench.efficiency.params import count_torch_parameters
    from mulcot_bench.paths import default_cache_dir, default_data_root
    from mulcot_bench.plugin.contract import check_model
    from mulcot_bench.plugin.registry import Registry
    from mulcot_bench.prompts import LEVELS, prompt_digests, render_prompt, template_hash
    from mulcot_bench.prompts.asked import asked_input, asked_prompts, prompt_ref, render_ref
    from mulcot_bench.scoring.metric import Metric, SampleScores
    from mulcot_bench.scoring.stats import macro_f1

#: names loaded on first use, as ``from MODULE import NAME`` (a submodule too): their modules import numpy,
#: jinja2, Pillow or the pipeline
_LAZY = {
    "check_model": "mulcot_bench.plugin.contract",
    "Registry": "mulcot_bench.plugin.registry",
    "Metric": "mulcot_bench.scoring.metric",
    "SampleScores": "mulcot_bench.scoring.metric",
    "macro_f1": "mulcot_bench.scoring.stats",
    "write_text": "mulcot_bench.atomic",
    "write_bytes": "mulcot_bench.atomic",
    "file_sha256": "mulcot_bench.atomic",
    "default_cache_dir": "mulcot_bench.paths",
    "default_data_root": "mulcot_bench.paths",
    "LEVELS": "mulcot_bench.prompts",
    "render_prompt": "mulcot_bench.prompts",
    "template_hash": "mulcot_bench.prompts",
    "prompt_digests": "mulcot_bench.prompts",
    "prompt_ref": "mulcot_bench.prompts.asked",
    "render_ref": "mulcot_bench.prompts.asked",
    "asked_prompts": "mulcot_bench.prompts.asked",
    "asked_input": "mulcot_bench.prompts.asked",
    "count_torch_parameters": "mulcot_bench.efficiency.params",
    "read_text": "mulcot_bench.data.text",
    "read_rationales": "mulcot_bench.data.rationales",
    "synthetic": "mulcot_bench.data",
}


class Register(Protocol):
    """The callback each ``register_*`` hook receives: call it once per spec."""

    def __call__(self, spec: ModelSpec | DatasetSpec | MetricSpec) -> None: ...


__all__ = [
    "FIELDS",
    "LABELS",
    "LEVELS",
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
    "Role",
    "Sample",
    "SampleScores",
    "Splits",
    "UserError",
    "asked_input",
    "asked_prompts",
    "check_label",
    "check_model",
    "count_torch_parameters",
    "default_cache_dir",
    "default_data_root",
    "file_sha256",
    "fit_reporter",
    "get_logger",
    "hookimpl",
    "macro_f1",
    "parse",
    "parse_label",
    "parse_label_released",
    "label_parser",
    "prompt_digests",
    "prompt_ref",
    "read_rationales",
    "read_text",
    "render_chain",
    "render_prompt",
    "render_ref",
    "synthetic",
    "template_hash",
    "write_bytes",
    "write_text",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        if not hasattr(module, name):  # a submodule, as ``from package import module`` finds it
            return importlib.import_module(f"{_LAZY[name]}.{name}")
        return getattr(module, name)
    raise AttributeError(f"module 'mulcot_bench.plugin' has no attribute {name!r}")
