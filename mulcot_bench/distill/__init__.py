"""The ``distill`` command's side: the distillation config (:mod:`.config`, torch-free), its shipped profiles,
the reference protocol's points (:mod:`.protocol`) and the run of one distillation (:mod:`.run`).

The training toolkit the models use (loss, cached logits, trainer) is :mod:`mulcot_bench.training`.
"""
