"""WordNet 3.0 for METEOR's synonym stage: NLTK's own corpus, else Debian's ``wordnet-base`` files.

Debian splits the database: ``wordnet-base`` holds the index, data and exception files, ``wordnet-sense-index``
the ``index.sense`` file that NLTK's reader (3.9+) also reads when it loads.

NLTK's reader opens a folder ``corpora/wordnet`` under one of ``nltk.data.path`` (and refuses any path outside
them). Where NLTK's corpus was never downloaded, the database files of a WordNet 3.0 install
(``/usr/share/wordnet``, or ``$WNSEARCHDIR``) are copied once into the cache in that layout, with the ``lexnames``
file the reader opens first, which Debian does not ship: its 45 rows are read from the ``lexnames(5WN)`` manual
page that ``wordnet-base`` installs. The cache folder is then appended to
``nltk.data.path``, so ``nltk.corpus.wordnet`` (the default of ``nltk.translate.meteor_score``) finds it.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from mulcot_bench.cache import Cache, key
from mulcot_bench.paths import default_cache_dir

log = logging.getLogger(__name__)

DEBIAN_DICT = Path("/usr/share/wordnet")
LEXNAMES_MAN = Path("/usr/share/man/man5/lexnames.5WN.gz")
INSTALL_HINT = (
    "install WordNet 3.0 with 'apt-get install wordnet-base wordnet-sense-index' (Debian/Ubuntu) "
    "or nltk.download('wordnet')"
)
FILES = (
    tuple(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv"))
    + tuple(f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv"))
    + ("index.sense",)
)
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def dict_folder() -> Path | None:
    """A WordNet database folder with every file NLTK's reader opens: ``$WNSEARCHDIR``, else Debian's."""
    for folder in (os.environ.get("WNSEARCHDIR"), DEBIAN_DICT):
        if folder and all((Path(folder) / name).is_file() for name in FILES):
            return Path(folder)
    return None


def lexnames_text(folder: Path) -> str | None:
    """The ``lexnames`` file: the folder's own, else the 45 rows of the installed ``lexnames(5WN)`` page."""
    if (folder / "lexnames").is_file():
        return (folder / "lexnames").read_text(encoding="utf-8")
    if not LEXNAMES_MAN.is_file():
        return None
    with gzip.open(LEXNAMES_MAN, "rt", encoding="utf-8") as fh:
        rows = re.findall(r"^(\d\d)\t\s*([a-z]+)\.(\w+)\s*\t", fh.read(), flags=re.MULTILINE)
    if [int(number) for number, _, _ in rows] != list(range(45)):
        return None
    return "".join(f"{number}\t{pos}.{name}\t{_CATEGORY[pos]}\n" for number, pos, name in rows)


def _nltk_has_wordnet() -> bool:
    import nltk

    for name in ("corpora/wordnet", "corpora/wordnet.zip"):
        try:
            nltk.data.find(name)
            return True
        except LookupError:
            continue
    return False


def _copy_corpus(folder: Path, lexnames: str) -> Any:
    def save(tmp: Path) -> None:
        target = tmp / "nltk_data" / "corpora" / "wordnet"
        target.mkdir(parents=True)
        for name in FILES:
            shutil.copyfile(folder / name, target / name)
        (target / "lexnames").write_text(lexnames, encoding="utf-8")

    return save


@lru_cache(maxsize=1)
def wordnet() -> Any | None:
    """NLTK's WordNet reader, loaded, or None (logged once) when no WordNet 3.0 is installed."""
    import nltk

    if not _nltk_has_wordnet():
        folder = dict_folder()
        lexnames = lexnames_text(folder) if folder else None
        if folder is None or lexnames is None:
            log.warning("METEOR (reference variant) runs without synonyms (synonyms:none): %s", INSTALL_HINT)
            return None
        stamp = [(name, (folder / name).stat().st_size) for name in FILES]
        k = key("nltk-wordnet-corpus", str(folder), stamp, lexnames)
        cache = Cache(default_cache_dir())
        try:
            root = cache.artifact(k) or cache.store_artifact(k, _copy_corpus(folder, lexnames))
        finally:
            cache.close()
        if str(root / "nltk_data") not in nltk.data.path:
            nltk.data.path.append(str(root / "nltk_data"))
    from nltk.corpus import wordnet as reader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": English only is used
        reader.ensure_loaded()
    return reader


def version() -> str:
    """``wordnet-3.0`` (the database's version) or ``none``; read from the database header where NLTK's corpus is
    not installed, so a signature never loads the reader (a run whose pairs are all cached loads no WordNet)."""
    folder = dict_folder()
    if not _nltk_has_wordnet() and folder is not None and lexnames_text(folder) is not None:
        with open(folder / "data.adj", encoding="utf-8", errors="replace") as fh:
            for _, line in zip(range(40), fh, strict=False):
                match = re.search(r"WordNet (\d+\.\d+) Copyright", line)
                if match:
                    return f"wordnet-{match.group(1)}"
    reader = wordnet()
    return f"wordnet-{reader.get_version()}" if reader is not None else "none"
