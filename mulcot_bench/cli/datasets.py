"""``mulcot-bench datasets ...``: list, verify, fetch and import the real datasets, and import release-format
reasoning chains."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mulcot_bench.cli.options import json_option
from mulcot_bench.errors import UserError

if TYPE_CHECKING:
    from mulcot_bench.plugin.specs import DatasetSpec

SPLITS = ("train", "dev", "test")

_root = click.option(
    "--data-root", type=click.Path(path_type=Path), help="Folder of the real datasets; also MULCOT_BENCH_DATA_ROOT."
)


def _data_root(data_root: Path | None, must_exist: bool = False) -> Path:
    """The data root given, else the default one; ``must_exist`` (reading commands) refuses a missing one, as
    ``run`` does (``fetch`` and ``import`` create it)."""
    from mulcot_bench.paths import default_data_root

    if must_exist and data_root is not None and not data_root.is_dir():
        raise UserError(f"data root {data_root} does not exist; pass an existing folder to --data-root")
    return data_root or default_data_root()


@click.group("datasets", invoke_without_command=True)
@_root
@json_option
@click.pass_context
def datasets_group(ctx: click.Context, data_root: Path | None, as_json: bool) -> None:
    """List, verify, fetch and import datasets (no subcommand: list; --data-root and --json as 'list' takes them)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd, data_root=data_root, as_json=as_json)
    elif data_root is not None:
        sub = ctx.invoked_subcommand
        raise UserError(f"--data-root before '{sub}' is not read: put it after, mulcot-bench datasets {sub} ... "
                        "--data-root DIR")  # fmt: skip
    elif as_json and ctx.invoked_subcommand != "list":
        raise UserError(f"'datasets {ctx.invoked_subcommand}' prints no JSON; --json is for the listing: "
                        "mulcot-bench datasets --json")  # fmt: skip
    elif as_json:
        raise UserError("--json before 'list' is not read: mulcot-bench datasets list --json (or datasets --json)")


@datasets_group.command("list")
@_root
@json_option
def list_cmd(data_root: Path | None, as_json: bool = False) -> None:
    """Each registered dataset: present or missing, rows, image and rationale coverage."""
    root = _data_root(data_root, must_exist=True)
    found = [_status(spec, root) for spec in _datasets()]
    for d in found:
        if d["status"] == "missing":
            d["fetch"] = fetch_command(d["name"], data_root)
    if as_json:
        click.echo(json.dumps({"data_root": str(root), "datasets": found}, indent=2))
        return
    click.echo(f"data root: {root}")
    for d in found:
        head = f"{d['name']:14} {d['level']:6}"
        if d["status"] == "present":
            n = sum(d["rows"].values())
            rows = "/".join(str(d["rows"][s]) for s in SPLITS)
            rat = "/".join(str(d["rationales"][s]) for s in SPLITS)
            pct = 100 * d["images"] / max(n, 1)
            click.echo(f"{head} present  rows {rows}  images {d['images']}/{n} ({pct:.0f}%)  rationales {rat}")
        elif d["status"] == "missing":
            click.echo(f"{head} missing ({d['how_to_get']})")
            if d["fetch"]:
                click.echo(f"{'':22}fetch its text files: {d['fetch']} (images are a manual download)")
        elif d["status"] == "unloadable":
            click.echo(f"{head} present, does not load: {d['error']}")
        else:
            click.echo(f"{head} embedded")


def fetch_command(name: str, data_root: Path | None) -> str | None:
    """``mulcot-bench datasets fetch NAME`` (with the ``--data-root`` given) when the dataset has a manifest that
    names a URL to download, else None."""
    import shlex

    from mulcot_bench.data.manifest import load_manifest, manifest_names

    if name not in manifest_names() or not any(f.url for f in load_manifest(name).files):
        return None
    root = f" --data-root {shlex.quote(str(data_root))}" if data_root is not None else ""
    return f"mulcot-bench datasets fetch {shlex.quote(name)}{root}"


def _datasets() -> list[DatasetSpec]:
    from mulcot_bench.plugin.registry import build_registry

    return list(build_registry([], strict=False).datasets.values())


def _status(spec: DatasetSpec, root: Path) -> dict[str, Any]:
    """One dataset's state under the data root: embedded, missing, unloadable, or present with its coverage."""
    from mulcot_bench.plugin.specs import resolve

    out: dict[str, Any] = {"name": spec.name, "level": spec.level}
    if spec.embedded:
        return {**out, "status": "embedded"}
    folder = spec.locate(root)
    if folder is None:
        return {**out, "status": "missing", "how_to_get": spec.how_to_get}
    try:
        data = resolve(spec.loader)(folder, spec.name, allow_missing_images=True)
    except UserError as exc:
        return {**out, "status": "unloadable", "path": str(folder), "error": str(exc)}
    splits = {s: data.split(s) for s in SPLITS}
    return {
        **out,
        "status": "present",
        "path": str(folder),
        "rows": {s: len(v) for s, v in splits.items()},
        "images": sum(x.image is not None for v in splits.values() for x in v),
        "rationales": {s: sum(x.rationale is not None for x in v) for s, v in splits.items()},
    }


@datasets_group.command("verify")
@click.argument("name")
@_root
@click.option("--no-decode", is_flag=True, help="Skip decoding every image.")
def verify_cmd(name: str, data_root: Path | None, no_decode: bool) -> None:
    """Checksums against the manifest, split and label counts, and every image opens."""
    from mulcot_bench.data.manifest import load_manifest
    from mulcot_bench.data.verify import verify_dataset

    manifest = load_manifest(name)
    folder = _data_root(data_root) / name
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist; run 'mulcot-bench datasets fetch {name}' first")
    checks = verify_dataset(manifest, folder, decode=not no_decode)
    for c in checks:
        click.echo(f"{c.status:4} {c.what}")
    failed = sum(c.status == "fail" for c in checks)
    click.echo(f"{name}: {failed} failed, {sum(c.status == 'warn' for c in checks)} warnings, {len(checks)} checks")
    if failed:
        sys.exit(1)


@datasets_group.command("fetch")
@click.argument("name")
@_root
def fetch_cmd(name: str, data_root: Path | None) -> None:
    """Download the manifest's files (resuming partial downloads), each checked against its sha256."""
    from tqdm import tqdm

    from mulcot_bench.data.fetch import fetch_file
    from mulcot_bench.data.manifest import load_manifest

    manifest = load_manifest(name)
    folder = _data_root(data_root) / name
    for entry in manifest.files:
        if entry.url is None:
            continue
        with tqdm(desc=entry.path, unit="B", unit_scale=True, file=sys.stderr, leave=False) as bar:

            def progress(done: int, total: int | None, bar: tqdm = bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            status = fetch_file(entry.url, folder / entry.path, entry.sha256, progress)
        click.echo(f"{entry.path}: {status}")
    click.echo(f"images are not fetched: {manifest.images.how_to_get}")


@datasets_group.command("import")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@_root
def import_cmd(name: str, path: Path, data_root: Path | None) -> None:
    """Copy a local copy of the upstream files (a folder or zip) into the data root."""
    from mulcot_bench.data.importer import import_dataset
    from mulcot_bench.data.manifest import load_manifest

    for line in import_dataset(load_manifest(name), path, _data_root(data_root) / name):
        click.echo(line)


@datasets_group.command("import-rationales")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--split", type=click.Choice(SPLITS), default="train", show_default=True)
@_root
def import_rationales_cmd(name: str, path: Path, split: str, data_root: Path | None) -> None:
    """Check reasoning chains in the MulCoT-RD release's format against a split and copy them into the data root.

    PATH is the release's chain file (e.g. data/T15/peft_Qwen_2.5_VL_72B.json for the Twitter-2015 train split).
    Prints how many rows matched by image, text and target, how many disagree on the label, how many are left.
    """
    from mulcot_bench.data.rationales import IMPORTABLE, import_rationales

    if name not in IMPORTABLE:
        known = " or ".join(IMPORTABLE)
        raise UserError(f"import-rationales reads the release's aspect-level chain files; use {known}")
    folder = _data_root(data_root, must_exist=True) / name
    for line in import_rationales(folder, path, split):
        click.echo(line)
