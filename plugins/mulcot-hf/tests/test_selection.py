"""Epoch selection of the shared training loop: dev accuracy (the reference) or the joint JMSRC score."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from mulcot_hf.backend import IGNORE, Backend, Batch
from mulcot_hf.settings import card_settings, resolve
from mulcot_hf.training import KD, DevScores, Task, train

from mulcot_bench.types import Sample


class OneWeight(Backend):
    """A backend whose logits are one trainable vector: enough for the loop to step, save and restore."""

    def __init__(self) -> None:
        self.w = torch.nn.Parameter(torch.zeros(5))

    def encode(self, samples: Sequence[Sample], prompts: Sequence[str], targets: Sequence[Sequence[int]]) -> Batch:
        labels = torch.full((len(samples), 3), IGNORE, dtype=torch.long)
        for i, target in enumerate(targets):
            labels[i, 1 : 1 + len(target)] = torch.tensor(list(target)[:2])
        return Batch({}, labels, [3] * len(samples))

    def logits(self, batch: Batch) -> torch.Tensor:
        return self.w.expand(batch.labels.shape[0], 3, 5)

    def parameters(self) -> list[dict]:
        return [{"params": [self.w], "lr": 0.1}]

    def train(self, mode: bool = True) -> None:
        pass

    def state(self) -> dict[str, torch.Tensor]:
        return {"w": self.w.detach().clone()}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            self.w.copy_(state["w"])


def _run(scripted: list[DevScores]) -> tuple[list, OneWeight, list[torch.Tensor]]:
    backend = OneWeight()
    items = [Sample(id=str(i), text="t", label="positive") for i in range(2)]
    weights: list[torch.Tensor] = []
    dev = iter(scripted)

    def evaluate() -> DevScores:
        weights.append(backend.w.detach().clone())
        return next(dev)

    st = {**card_settings("smol", "assistant"), "epochs": len(scripted), "batch_size": 2}
    record = train(backend, items, lambda name, chosen: Task(name, chosen, ["p"] * 2, [[1, 2]] * 2), st, 0,
                   KD(0.0, 2.0, False, "targets"), evaluate)
    return record, backend, weights


def test_joint_selection_keeps_the_epoch_that_writes_chains() -> None:
    # epoch 1: right labels but no five-field chain; epoch 2: chains, fewer right labels
    record, backend, weights = _run([DevScores(0.5, 0.5, 0.0), DevScores(0.25, 0.2, 1.0)])
    assert record.dev_score == [0.25, 0.625] and record.dev_format == [0.0, 1.0]
    assert record.selected_epoch == 2 and torch.equal(backend.w, weights[1])


def test_accuracy_selection_is_the_reference_rule() -> None:
    record, backend, weights = _run([DevScores(0.5, 0.5), DevScores(0.25, 0.2), DevScores(0.5, 0.5)])
    assert record.dev_score == [0.5, 0.25, 0.5] and record.dev_format == [None, None, None]
    # a tie on accuracy and macro-F1 goes to the lower training loss: the later epoch here
    assert record.losses[2] < record.losses[0] and record.selected_epoch == 3
    assert torch.equal(backend.w, weights[2])


def test_select_on_defaults_and_bad_values() -> None:
    assert card_settings("smol", "student")["select_on"] == "joint"
    assert card_settings("qwen", "student")["select_on"] == "accuracy"
    with pytest.raises(ValueError, match="select_on='format'; use one of \\['accuracy', 'joint'\\]"):
        resolve("smol", "assistant", {"select_on": "format"}, "x")


def test_field_metric_ties_keep_the_first_epoch_and_use_the_level_f1() -> None:
    from mulcot_hf.training import selection_key

    post = [DevScores(0.5, 0.9, None, 0.4, "post"), DevScores(0.5, 0.1, None, 0.6, "post")]
    assert selection_key(post[1], 1.0, "field-metric") > selection_key(post[0], 2.0, "field-metric")  # weighted-F1
    aspect = [DevScores(0.5, 0.5, None, 0.9, "aspect"), DevScores(0.5, 0.5, None, 0.1, "aspect")]
    assert selection_key(aspect[0], 2.0, "field-metric") == selection_key(aspect[1], 1.0, "field-metric")
    assert selection_key(aspect[1], 1.0, "macro-f1-loss") > selection_key(aspect[0], 2.0, "macro-f1-loss")


def test_loss_scaling_sum_gives_grad_accum_times_the_mean_gradient() -> None:
    steps = {}
    for scaling in ("mean", "sum"):
        backend = OneWeight()
        items = [Sample(id=str(i), text="t", label="positive") for i in range(4)]
        st = {**card_settings("smol", "assistant"), "epochs": 1, "batch_size": 2, "grad_accum": 2,
              "loss_scaling": scaling, "grad_clip": 0.0, "weight_decay": 0.0}  # fmt: skip
        seen: list[torch.Tensor] = []  # the gradient AdamW is given after the step's two micro-batches

        def keep(p: torch.Tensor, seen: list[torch.Tensor] = seen) -> None:
            seen.append(p.grad.detach().clone())

        hook = backend.w.register_post_accumulate_grad_hook(keep)
        train(backend, items, lambda name, chosen: Task(name, chosen, ["p"] * len(chosen), [[1, 2]] * len(chosen)),
              st, 0, KD(0.0, 2.0, False, "targets"), None)  # fmt: skip
        hook.remove()
        steps[scaling] = seen[-1]
    assert torch.allclose(steps["sum"], 2 * steps["mean"])


def _steps(accum_count: str, n_items: int, epochs: int) -> tuple[int, list[list[int]], list[torch.Tensor]]:
    """Optimiser steps taken, the micro-batches run between two steps, and the accumulated gradient after each
    micro-batch's backward."""
    backend = OneWeight()
    items = [Sample(id=str(i), text="t", label="positive") for i in range(n_items)]
    st = {**card_settings("smol", "assistant"), "epochs": epochs, "batch_size": 1, "grad_accum": 4,
          "accum_count": accum_count, "grad_clip": 0.0}  # fmt: skip
    summed: list[list[int]] = [[]]
    calls = {"n": 0}

    def task(name: str, chosen: list[Sample]) -> Task | None:
        if name == "label":
            summed[-1].append(calls["n"])
            calls["n"] += 1
        return Task(name, chosen, ["p"], [[1, 2]]) if name == "label" else None

    grads: list[torch.Tensor] = []
    hook = backend.w.register_post_accumulate_grad_hook(lambda p: grads.append(p.grad.detach().clone()))
    record = train(backend, items, task, st, 0, KD(0.0, 2.0, False, "targets"), None,
                   on_step=lambda info: summed.append([]))  # fmt: skip
    hook.remove()
    return record.steps, [s for s in summed if s], grads


def test_global_accum_count_drops_the_leftover_micro_batches_as_the_reference() -> None:
    # 6 micro-batches per epoch, grad_accum 4, 2 epochs. per-epoch: steps on 0-3, 4-5 (leftover), 6-9, 10-11.
    steps, groups, _ = _steps("per-epoch", 6, 2)
    assert steps == 4 and groups[:4] == [[0, 1, 2, 3], [4, 5], [6, 7, 8, 9], [10, 11]]
    # global: one count over both epochs, a step at micro-batches 4 and 8 and 12; the gradients are zeroed at the
    # second epoch's start, so micro-batches 4-5 are dropped and the second step sums only 6-7
    steps, groups, grads = _steps("global", 6, 2)
    assert steps == 3 and groups == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    # the weight is the same from micro-batch 4 to 7 (no step between), so each adds the same gradient g: the
    # second step is given 2g (micro-batches 6 and 7), not 4g
    g = grads[4]
    assert torch.allclose(grads[5], 2 * g) and torch.allclose(grads[7], 2 * g) and not torch.allclose(grads[7], 4 * g)
    with pytest.raises(ValueError, match="accum_count"):
        resolve("smol", "assistant", {"accum_count": "sometimes"}, "m")
