"""The four real datasets read in place from ../shared/data: exact published sizes, labels and coverage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mulcot_bench.data.loaders import load_mvsa, load_twitter
from mulcot_bench.data.manifest import load_manifest, manifest_names

REPO = Path(__file__).resolve().parents[1]
SIZES = {
    "twitter2015": ((3179, 1122, 1037), {"positive": 317, "neutral": 607, "negative": 113}),
    "twitter2017": ((3562, 1176, 1234), {"positive": 493, "neutral": 573, "negative": 168}),
    "mvsa_single": ((3611, 450, 450), {"positive": 268, "neutral": 47, "negative": 135}),
    "mvsa_multiple": ((13624, 1700, 1700), {"positive": 1131, "neutral": 440, "negative": 129}),
}


@pytest.fixture(scope="module")
def data_root() -> Path:
    root = REPO.parent / "shared" / "data"
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (the shared read-only data folder); these tests need it")
    return root


def _load(root: Path, name: str):  # noqa: ANN202
    loader = load_twitter if name.startswith("twitter") else load_mvsa
    return loader(root / name, name, allow_missing_images=True)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_published_sizes_and_test_labels(data_root: Path, name: str) -> None:
    data = _load(data_root, name)
    sizes, test_labels = SIZES[name]
    assert (len(data.train), len(data.dev), len(data.test)) == sizes
    assert dict(Counter(s.label for s in data.test)) == test_labels
    manifest = load_manifest(name)
    for split in ("train", "dev", "test"):
        assert manifest.splits[split].rows == len(data.split(split))
        assert manifest.splits[split].labels == dict(Counter(s.label for s in data.split(split)))


def test_twitter2015_images_and_rationales(data_root: Path) -> None:
    data = load_twitter(data_root / "twitter2015", "twitter2015")
    every = data.train + data.dev + data.test
    assert all(s.image is not None for s in every)
    assert data.stats["images_found_files"] == 3502
    assert all(s.rationale for s in data.dev + data.test)
    assert data.stats["rationales_dev_unique"] == 1113 and data.stats["rationales_dev_paired"] == 9
    assert data.stats["rationales_test_unique"] == 1033 and data.stats["rationales_test_paired"] == 4
    assert data.stats["rationales_dev_unmatched"] == data.stats["rationales_test_unmatched"] == 0
    assert any("1113/1122" in n for n in data.notes) and any("1033/1037" in n for n in data.notes)
    first = data.train[0]
    assert first.target == "Chuck Bass" and "$T$" not in first.text and "Chuck Bass" in first.text


@pytest.mark.parametrize("name", ["twitter2017", "mvsa_single", "mvsa_multiple"])
def test_a_copy_without_images_is_a_text_only_copy(data_root: Path, name: str) -> None:
    """No ``images/`` folder at all: the copy loads text-only and says so; ``--allow-missing-images`` is moot."""
    loader = load_twitter if name.startswith("twitter") else load_mvsa
    data = loader(data_root / name, name)
    assert data.modality == "text" and "a text-only copy" in data.notes[0]
    assert data.stats["images_missing_samples"] == data.stats["samples"] > 0
    assert _load(data_root, name).modality == "text"


def test_run_refuses_a_named_text_only_copy_under_require_images(data_root: Path, tmp_path: Path) -> None:
    """``-d twitter2017 --require-images`` without its images is a failed request: one line, nothing written."""
    from mulcot_bench.errors import UserError
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.runner import RunOptions, run

    options = RunOptions(
        datasets=["twitter2017"],
        models=[],
        data_root=data_root,
        runs_dir=tmp_path / "runs",
        reports_dir=tmp_path / "reports",
        cache_dir=tmp_path / "cache",
        run_id="t",
        require_images=True,
    )
    with pytest.raises(UserError, match="twitter2017: the copy at .* has no images .*--require-images") as info:
        run(build_registry([], strict=False), options)
    assert "\n" not in str(info.value) and not (tmp_path / "runs").exists()


def test_run_all_runs_a_text_only_copy_and_records_it(data_root: Path, tmp_path: Path) -> None:
    """Without ``-d`` a text-only copy runs text-only and its record says so; with ``--require-images`` it is
    listed as not run and the others run."""
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.runner import RunOptions, run

    root = tmp_path / "data"
    root.mkdir()
    (root / "twitter2017").symlink_to(data_root / "twitter2017")
    common = dict(models=["majority"], data_root=root, runs_dir=tmp_path / "runs", reports_dir=tmp_path / "reports",
                  cache_dir=tmp_path / "cache", dataset_options={"synthetic": {"train": 20, "dev": 10, "test": 10}},
                  bootstrap=0, limits=(60, 20, 40))  # fmt: skip
    outcome = run(build_registry([], strict=False), RunOptions(run_id="t", **common))  # type: ignore[arg-type]
    record = next(d for d in outcome.results.datasets if d.name == "twitter2017")
    assert record.status == "present" and record.modality == "text"
    assert sorted({e.dataset for e in outcome.results.entries}) == ["synthetic", "twitter2017"]
    refused = run(build_registry([], strict=False), RunOptions(run_id="r", require_images=True, **common))  # type: ignore[arg-type]
    record = next(d for d in refused.results.datasets if d.name == "twitter2017")
    assert record.status == "text-only" and "--require-images" in record.notes[0]
    assert [e.dataset for e in refused.results.entries] == ["synthetic"]


def test_load_dataset_allow_missing_images_notes(data_root: Path) -> None:
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.runner.selection import load_dataset

    spec = build_registry([], strict=False).dataset("mvsa_single")
    data, folder = load_dataset(spec, data_root, {"allow_missing_images": True})
    assert folder == data_root / "mvsa_single"
    assert data is not None and "text-only" in data.notes[0]  # type: ignore[attr-defined]


def test_manifest_package_copies_match_source() -> None:
    names = manifest_names()
    assert names == ["mvsa_multiple", "mvsa_single", "twitter2015", "twitter2017"]
    for name in names:
        packaged = (REPO / "mulcot_bench" / "data" / "manifests" / f"{name}.json").read_bytes()
        assert (REPO / "datasets" / f"{name}.json").read_bytes() == packaged, (
            f"datasets/{name}.json is the source of truth: copy it to mulcot_bench/data/manifests/"
        )
