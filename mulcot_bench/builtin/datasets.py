"""Built-in datasets: the embedded synthetic set and the four real benchmarks (found under the data root)."""

from __future__ import annotations

from mulcot_bench.hookspecs import hookimpl
from mulcot_bench.specs import DatasetSpec

_L = "mulcot_bench.builtin.loaders"
_TWITTER = ("train.tsv", "dev.tsv", "test.tsv")
_MVSA = ("train.json", "dev.json", "test.json")


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
    tomb = "the TomBERT release (github.com/jefferyYu/TomBERT, absa_data/)"
    clmlf = "the CLMLF release (github.com/Link-Li/CLMLF, dataset/data/)"
    register(
        DatasetSpec(
            "twitter2015",
            "Twitter-2015",
            "aspect",
            f"{_L}:load_twitter",
            "twitter2015",
            _TWITTER,
            _how("twitter2015", _TWITTER, tomb),
        )
    )
    register(
        DatasetSpec(
            "twitter2017",
            "Twitter-2017",
            "aspect",
            f"{_L}:load_twitter",
            "twitter2017",
            _TWITTER,
            _how("twitter2017", _TWITTER, tomb),
        )
    )
    register(
        DatasetSpec(
            "mvsa_single",
            "MVSA-Single",
            "post",
            f"{_L}:load_mvsa",
            "mvsa_single",
            _MVSA,
            _how("mvsa_single", _MVSA, clmlf),
            headline=("accuracy", "weighted_f1"),
            alternative_files=(("labelResultAll.txt",),),  # the raw MVSA release, cleaned on load
        )
    )
    register(
        DatasetSpec(
            "mvsa_multiple",
            "MVSA-Multiple",
            "post",
            f"{_L}:load_mvsa",
            "mvsa_multiple",
            _MVSA,
            _how("mvsa_multiple", _MVSA, clmlf),
            headline=("accuracy", "weighted_f1"),
            alternative_files=(("labelResultAll.txt",),),  # the raw MVSA release, cleaned on load
        )
    )


def load_synthetic(root: object, name: str, seed: int = 13, train: int = 600, dev: int = 200, test: int = 200):  # noqa: ANN201
    """Loader of the embedded set: generated from its seed (see :mod:`mulcot_bench.builtin.synthetic`)."""
    from mulcot_bench.builtin.synthetic import generate

    return generate(seed=seed, train=train, dev=dev, test=test)
