from pathlib import Path

import pytest

from mulcot_bench.cache import Cache, key


def test_key_is_stable_and_sensitive() -> None:
    assert key("m", {"a": 1, "b": 2}) == key("m", {"b": 2, "a": 1})
    assert key("m", {"a": 1}) != key("m", {"a": 2})
    assert key("model-a", "x") != key("model-b", "x")


def test_values_survive_a_new_connection(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put_many("ns", {"k1": {"label": "positive"}, "k2": [1, 2]})
    cache.close()
    again = Cache(tmp_path)
    assert again.get_many("ns", ["k1", "k2", "k3"]) == {"k1": {"label": "positive"}, "k2": [1, 2]}
    assert again.get("other-ns", "k1") is None


def test_artifact_is_visible_only_when_complete(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    assert cache.artifact("abc") is None

    def save(folder: Path) -> None:
        (folder / "weights.json").write_text("{}")

    folder = cache.store_artifact("abc", save)
    assert cache.artifact("abc") == folder
    assert (folder / "weights.json").exists()


def test_failed_save_leaves_nothing(tmp_path: Path) -> None:
    cache = Cache(tmp_path)

    def save(folder: Path) -> None:
        (folder / "half").write_text("x")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache.store_artifact("abc", save)
    assert cache.artifact("abc") is None
    assert not any(p.name.startswith(".abc") for p in (tmp_path / "artifacts").iterdir())
