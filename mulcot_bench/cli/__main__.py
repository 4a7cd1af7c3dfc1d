"""``python -m mulcot_bench.cli``: the same command as ``mulcot-bench``."""

from mulcot_bench.cli import main

main()
