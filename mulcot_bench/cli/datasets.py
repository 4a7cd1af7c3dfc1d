"""``mulcot-bench datasets ...``: list, verify, fetch and import the real datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mulcot_bench.errors import UserError

_root = click.option(
    "--data-root", type=click.Path(path_type=Path), help="Folder of the real datasets; also MULCOT_BENCH_DATA_ROOT."
)


def _data_root(data_root: Path | None) -> Path:
    from mulcot_bench.paths import default_data_root

    return data_root or default_data_root()


@click.group("datasets", invoke_without_command=True)
@_root
@click.pass_context
def datasets_group(ctx: click.Context, data_root: Path | None) -> None:
    """List, verify, fetch and import datasets (no subcommand: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd, data_root=data_root)


@datasets_group.command("list")
@_root
def list_cmd(data_root: Path | None) -> None:
    """Each registered dataset: present or missing, rows, image and rationale coverage."""
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.plugin.specs import resolve

    root = _data_root(data_root)
    click.echo(f"data root: {root}")
    for spec in build_registry([], strict=False).datasets.values():
        if spec.embedded:
            click.echo(f"{spec.name:14} {spec.level:6} embedded")
            continue
        folder = spec.locate(root)
        if folder is None:
            click.echo(f"{spec.name:14} {spec.level:6} missing ({spec.how_to_get})")
            continue
        try:
            data = resolve(spec.loader)(folder, spec.name, allow_missing_images=True)
        except UserError as exc:
            click.echo(f"{spec.name:14} {spec.level:6} present, does not load: {exc}")
            continue
        click.echo(f"{spec.name:14} {spec.level:6} present  {_coverage(data)}")


def _coverage(data: object) -> str:
    splits = [data.split(s) for s in ("train", "dev", "test")]  # type: ignore[attr-defined]
    rows = "/".join(str(len(s)) for s in splits)
    n = sum(len(s) for s in splits)
    img = sum(x.image is not None for s in splits for x in s)
    rat = "/".join(f"{sum(x.rationale is not None for x in s)}" for s in splits)
    return f"rows {rows}  images {img}/{n} ({100 * img / max(n, 1):.0f}%)  rationales {rat}"


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
