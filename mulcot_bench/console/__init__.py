"""What a user sees while work runs: the logging set-up (:mod:`~mulcot_bench.console.logs`: ``-v``/``-q``, the
run folder's ``run.log``, third-party progress bars kept quiet) and the contract by which a training model reports
its epochs and steps (:mod:`~mulcot_bench.console.fit`). Only the standard library is imported here.
"""
