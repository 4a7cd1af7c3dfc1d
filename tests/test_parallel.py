"""The data-parallel room's rules: interleaved shards, the launcher's world, backends, the cache layout and the
sharded cache's merge (the runs themselves under torchrun: tests/test_parallel_run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mulcot_bench.cache import Cache
from mulcot_bench.errors import UserError
from mulcot_bench.journal import Journal
from mulcot_bench.parallel.collect import (
    all_gather_json,
    all_reduce_sum,
    any_rank,
    broadcast_json,
    gather_ordered,
    shard,
    sharded_map,
    union_keys,
    unshard,
)
from mulcot_bench.parallel.layout import choose, fs_type, mounts
from mulcot_bench.parallel.shards import ShardCache, close_cache, merge_shards, open_cache
from mulcot_bench.parallel.world import World, backend_for, from_env

MOUNTS = (
    "sysfs /sys sysfs rw 0 0\n"
    "/dev/sda1 / ext4 rw 0 0\n"
    "server:/export /mnt/shared nfs4 rw,vers=4.2 0 0\n"
    "/dev/sdb1 /mnt/shared/local\\040disk xfs rw 0 0\n"
)
NODES2 = World(rank=0, size=4, local_rank=0, local_size=2)


@pytest.mark.parametrize("n", [0, 1, 5, 20, 21])
@pytest.mark.parametrize("size", [1, 2, 3])
def test_interleaved_shards_cover_every_item_once_and_come_back_in_order(n: int, size: int) -> None:
    items = [f"item{i}" for i in range(n)]
    parts = [shard(items, r, size) for r in range(size)]
    assert sorted(x for p in parts for x in p) == sorted(items)
    assert parts[0] == items[0::size] and unshard(parts, n) == items


def test_unshard_refuses_a_rank_that_sent_the_wrong_count() -> None:
    with pytest.raises(ValueError, match="rank 1 sent 1 items"):
        unshard([["a", "c"], ["b"]], 4)


def test_collectives_are_the_identity_in_one_process() -> None:
    assert all_gather_json({"a": [1, "é"]}) == [{"a": [1, "é"]}]
    assert broadcast_json("run-1") == "run-1"
    assert any_rank(True) and not any_rank(False)


def test_the_trainers_collectives_are_the_identity_in_one_process() -> None:
    assert gather_ordered(["a", None], 2) == ["a", None]
    assert sharded_map(lambda idx: [i * 10 for i in idx], 4) == [0, 10, 20, 30]
    assert union_keys({"loss": 1.0, "kd": 2.0}) == ["kd", "loss"]
    assert all_reduce_sum([1, 2.5]) == [1.0, 2.5]
    with pytest.raises(ValueError, match="returned 1 results for 3 items"):
        sharded_map(lambda idx: idx[:1], 3)


def test_world_from_the_launcher_environment() -> None:
    assert from_env({}) == World(0, 1, 0, 1)
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    world = from_env(env)
    assert (world.rank, world.size, world.local_rank, world.local_size) == (3, 4, 1, 2)
    assert world.multi_node and not world.main
    assert not from_env({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}).multi_node
    with pytest.raises(UserError, match="WORLD_SIZE='two'"):
        from_env({"WORLD_SIZE": "two"})
    with pytest.raises(UserError, match="RANK=2 and WORLD_SIZE=2"):
        from_env({"RANK": "2", "WORLD_SIZE": "2"})


def test_backend_follows_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MULCOT_BENCH_DIST_BACKEND", raising=False)
    assert backend_for("cpu", cuda_available=True) == "gloo"
    assert backend_for("auto", cuda_available=False) == "gloo"
    assert backend_for("auto", cuda_available=True) == "nccl"
    assert backend_for("cuda", cuda_available=True) == "nccl"
    with pytest.raises(UserError, match="--device cuda"):
        backend_for("cuda", cuda_available=False)
    monkeypatch.setenv("MULCOT_BENCH_DIST_BACKEND", "gloo")
    assert backend_for("auto", cuda_available=True) == "gloo"


def test_file_system_of_a_folder_is_its_longest_mount(tmp_path: Path) -> None:
    table = mounts(MOUNTS)
    assert ("/mnt/shared/local disk", "xfs") in table
    assert fs_type(Path("/mnt/shared/cache/x"), table) == "nfs4"
    assert fs_type(Path("/mnt/shared/local disk/cache"), table) == "xfs"
    assert fs_type(Path("/mnt/sharedfoo"), table) == "ext4"
    assert fs_type(tmp_path / "not" / "yet", [(str(tmp_path), "nfs")]) == "nfs"


def test_layout_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MULCOT_BENCH_CACHE_LAYOUT", raising=False)
    one, two = World(), World(0, 2, 0, 2)
    assert choose("sharded", one, tmp_path, "nfs4") == "shared"  # one process: the usual file
    assert choose(None, two, tmp_path, "ext4") == "shared"
    assert choose("auto", two, tmp_path, "nfs4") == "sharded"
    assert choose("auto", NODES2, tmp_path, "ext4") == "sharded"
    assert choose("shared", NODES2, tmp_path, "ext4") == "shared"  # each machine its own local cache
    assert choose("sharded", two, tmp_path, "ext4") == "sharded"
    with pytest.raises(UserError, match=r"--cache-layout shared: .* network file system \(nfs4\).* 2 machines"):
        choose("shared", NODES2, tmp_path, "nfs4")
    with pytest.raises(UserError, match="several ranks"):
        choose("shared", two, tmp_path, "lustre")
    monkeypatch.setenv("MULCOT_BENCH_CACHE_LAYOUT", "sharded")
    assert choose(None, two, tmp_path, "ext4") == "sharded"
    monkeypatch.setenv("MULCOT_BENCH_CACHE_LAYOUT", "spread")
    with pytest.raises(UserError, match="cache layout 'spread'.*auto, shared, sharded"):
        choose(None, two, tmp_path, "ext4")


def test_shard_files_read_through_to_the_main_file_and_merge_into_it(tmp_path: Path) -> None:
    main = Cache(tmp_path)
    main.put_many("ns", {"old": {"v": 0}})
    main.close()
    r0, r1 = ShardCache(tmp_path, 0), ShardCache(tmp_path, 1)
    r0.put_many("ns", {"a": {"v": 1}})
    r1.put_many("ns", {"b": {"v": 2}, "old": {"v": 9}})
    assert r0.get_many("ns", ["a", "b", "old"]) == {"a": {"v": 1}, "old": {"v": 0}}  # its own file, then main
    assert r1.get("ns", "old") == {"v": 9}  # its own row wins
    assert Cache(tmp_path).get("ns", "a") is None  # nothing reached the main file yet
    r0.close()
    r1.close()
    assert merge_shards(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.glob("cache.rank*")) == []
    assert Cache(tmp_path).get_many("ns", ["a", "b", "old"]) == {"a": {"v": 1}, "b": {"v": 2}, "old": {"v": 9}}


def test_a_killed_runs_shard_is_merged_when_the_next_run_opens_the_cache(tmp_path: Path) -> None:
    left = ShardCache(tmp_path, 1)
    left.put("ns", "k", {"v": 1})
    left.close()  # the shard file a killed rank left behind
    (tmp_path / "cache.rank3.sqlite3").write_bytes(b"")  # one killed before it made its table
    cache = open_cache(tmp_path, "sharded", World())
    assert not (tmp_path / "cache.rank3.sqlite3").exists()
    assert isinstance(cache, ShardCache) and cache.get("ns", "k") == {"v": 1}
    cache.put("ns", "k2", {"v": 2})
    assert close_cache(cache, "sharded", World()) == 1  # its own shard file
    assert Cache(tmp_path).get_many("ns", ["k", "k2"]) == {"k": {"v": 1}, "k2": {"v": 2}}


def test_each_rank_journals_to_its_own_file_and_replay_reads_them_all(tmp_path: Path) -> None:
    from mulcot_bench.data.synthetic import generate

    samples = generate(seed=1, train=2, dev=1, test=1).train
    Journal(tmp_path).append("m", "predict-test", samples[:1], ["k0"], [{"label": "positive"}])
    Journal(tmp_path, ".rank1").append("m", "predict-test", samples[1:], ["k1"], [{"label": "negative"}])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl", "m.rank1.jsonl"]
    cache = Cache(tmp_path / "cache")
    assert Journal(tmp_path).replay(cache).restored == 2
    assert cache.get_many("predict-test", ["k0", "k1"]) == {"k0": {"label": "positive"}, "k1": {"label": "negative"}}


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"MULCOT_BENCH_CACHE_LAYOUT": "spread"}, "error: cache layout 'spread' (--cache-layout or "
         "$MULCOT_BENCH_CACHE_LAYOUT): use one of auto, shared, sharded"),
        ({"WORLD_SIZE": "two"}, "error: environment variable WORLD_SIZE='two' is not a whole number; launch with "
         "torchrun"),
    ],
)  # fmt: skip
def test_a_bad_layout_or_launcher_environment_is_one_line_and_writes_nothing(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    import os
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "mulcot_bench", "run", "-d", "synthetic", "-m", "majority", "--synthetic-size",
           "6,3,3", "--cache-dir", str(tmp_path / "cache"), "--runs-dir", str(tmp_path / "runs")]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == says, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [says]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()
