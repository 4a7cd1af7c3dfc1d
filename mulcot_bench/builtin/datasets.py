"""Built-in datasets: the embedded synthetic set and the four real benchmarks (found under the data root)."""

from __future__ import annotations

from mulcot_bench.plugin.hookspecs import hookimpl
from mulcot_bench.plugin.specs import DatasetSpec

_L = "mulcot_bench.data.loaders"
_TWITTER = ("train.tsv", "dev.tsv", "test.tsv")
_MVSA = ("train.json", "dev.json", "test.json")
_TOMBERT = "the TomBERT release (github.com/jefferyYu/TomBERT, absa_data/)"
_CLMLF = "the CLMLF release (github.com/Link-Li/CLMLF, dataset/data/)"


def _how(folder: str, files: tuple[str, ...], source: str) -> str:
    return (
        f"put {', '.join(files)} (and images/) in <data root>/{folder}/ from {source}, "
        f"then pass --data-root or set MULCOT_BENCH_DATA_ROOT"
    )


@hookimpl
def register_datasets(register) -> None:  # noqa: ANN001
    register(
        DatasetSpec(
            "synthetic",
            "Synthetic (embedded)",
            "aspect",
            "mulcot_bench.builtin.datasets:load_synthetic",
            how_to_get="embedded: generated from a seed, nothing to download",
        )
    )
    for name, title in (("twitter2015", "Twitter-2015"), ("twitter2017", "Twitter-2017")):
        register(
            DatasetSpec(name, title, "aspect", f"{_L}:load_twitter", name, _TWITTER, _how(name, _TWITTER, _TOMBERT))
        )
    for name, title in (("mvsa_single", "MVSA-Single"), ("mvsa_multiple", "MVSA-Multiple")):
        register(
            DatasetSpec(
                name,
                title,
                "post",
                f"{_L}:load_mvsa",
                name,
                _MVSA,
                _how(name, _MVSA, _CLMLF),
                headline=("accuracy", "weighted_f1"),  # the MVSA field convention
                alternative_files=(("labelResultAll.txt",),),  # the raw MVSA release, cleaned on load
            )
        )


def load_synthetic(root: object, name: str, seed: int = 13, train: int = 600, dev: int = 200, test: int = 200):  # noqa: ANN201
    """Loader of the embedded set: generated from its seed (see :mod:`mulcot_bench.data.synthetic`)."""
    from mulcot_bench.data.synthetic import generate

    return generate(seed=seed, train=train, dev=dev, test=test)
