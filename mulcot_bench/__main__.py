"""``python -m mulcot_bench``: the ``mulcot-bench`` command (what ``torchrun ... -m mulcot_bench`` runs)."""

from mulcot_bench.cli import main

main()
