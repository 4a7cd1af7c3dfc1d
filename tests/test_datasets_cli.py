"""``mulcot-bench datasets list/verify/fetch/import`` and ``run --allow-missing-images`` wiring."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from mulcot_bench.cli import cli
from mulcot_bench.data.manifest import load_manifest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED} (the shared read-only data folder)")
    return SHARED


def test_list_shows_coverage(shared: Path) -> None:
    out = CliRunner().invoke(cli, ["datasets", "list", "--data-root", str(shared)])
    assert out.exit_code == 0, out.output
    assert "twitter2015    aspect present  rows 3179/1122/1037  images 5338/5338 (100%)  rationales 0/1122/1037" in (
        out.output
    )
    assert "mvsa_single    post   present  rows 3611/450/450  images 0/4511 (0%)" in out.output


def test_import_zip_then_verify(shared: Path, tmp_path: Path) -> None:
    """An upstream-shaped zip (absa_data/ with both Twitter sets, a flat image folder) lands in the data root."""
    src = shared / "twitter2017"
    archive = tmp_path / "upstream.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for split in ("train", "dev", "test"):
            zf.write(src / f"{split}.tsv", f"absa_data/twitter/{split}.tsv")
            zf.writestr(f"absa_data/twitter2015/{split}.tsv", "wrong file with the same name\n")
        zf.writestr("IJCAI2019_data/twitter2017_images/O_4091.jpg", b"\xff\xd8 corrupt")
    root = tmp_path / "root"
    out = CliRunner().invoke(cli, ["datasets", "import", "twitter2017", str(archive), "--data-root", str(root)])
    assert out.exit_code == 0, out.output
    assert "skipped 3 files whose sha256 is not the manifest's" in out.output
    assert (root / "twitter2017" / "train.tsv").read_bytes() == (src / "train.tsv").read_bytes()
    out = CliRunner().invoke(cli, ["datasets", "verify", "twitter2017", "--data-root", str(root)])
    assert out.exit_code == 1
    assert "ok   test: 1234 rows" in out.output and "warn images: 2907 of 2908 files missing" in out.output
    assert f"corrupt image {root / 'twitter2017' / 'images' / 'O_4091.jpg'}" in out.output


def test_fetch_uses_manifest_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_datasets_fetch import _serve

    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)

    body = b"index\tlabel\n" * 50
    with _serve(body=body) as (url, _):
        real = load_manifest("twitter2015")
        entry = real.files[0].model_copy(update={"url": url, "sha256": hashlib.sha256(body).hexdigest()})
        fake = real.model_copy(update={"files": [entry]})
        monkeypatch.setattr("mulcot_bench.data.manifest.load_manifest", lambda name: fake)
        out = CliRunner().invoke(cli, ["datasets", "fetch", "twitter2015", "--data-root", str(tmp_path)])
        assert out.exit_code == 0, out.output
        assert "train.tsv: downloaded" in out.output and "images are not fetched" in out.output
        assert (tmp_path / "twitter2015" / "train.tsv").read_bytes() == body


def test_run_allow_missing_images_sets_option(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = {}

    def fake_run(registry, options):  # noqa: ANN001, ANN202
        seen.update(options.dataset_options)
        raise SystemExit(0)

    monkeypatch.setattr("mulcot_bench.runner.run", fake_run)
    CliRunner().invoke(cli, ["run", "--all", "--allow-missing-images", "--runs-dir", str(tmp_path)])
    assert all(seen[n] == {"allow_missing_images": True} for n in ("twitter2015", "mvsa_multiple"))
    assert "allow_missing_images" not in seen["synthetic"]


def test_list_names_the_fetch_command_of_each_missing_dataset_with_a_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = CliRunner().invoke(cli, ["datasets", "--data-root", str(tmp_path)])
    assert out.exit_code == 0, out.output
    for name in ("twitter2015", "twitter2017", "mvsa_single", "mvsa_multiple"):
        assert f"fetch its text files: mulcot-bench datasets fetch {name} --data-root {tmp_path}" in out.output
    assert "datasets fetch synthetic" not in out.output
    real = load_manifest("twitter2017")
    no_urls = real.model_copy(update={"files": [f.model_copy(update={"url": None}) for f in real.files]})
    monkeypatch.setattr("mulcot_bench.data.manifest.load_manifest", lambda name: no_urls)
    monkeypatch.setenv("MULCOT_BENCH_DATA_ROOT", str(tmp_path))
    out = CliRunner().invoke(cli, ["datasets"])
    assert out.exit_code == 0, out.output
    assert "twitter2015    aspect missing" in out.output and "datasets fetch" not in out.output
