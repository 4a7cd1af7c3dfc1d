"""Cached top-k assistant logits vs the live assistant: student step time and loss, on the tiny VLM.

Usage: ``python benchmarks/kd_cached_logits.py [--k 64] [--steps 30] [--assistant-epochs 10]``

1. Generates the embedded synthetic set (600 train items, seed 13) and trains the ``tiny-vlm-assistant``
   (d=128, 2 layers, default settings) on its reference chains.
2. Builds the ``tiny-vlm-student`` network (d=64) and its KD task three ways: the live assistant (its forward
   pass runs inside every student step), cached top-k logits with the given k, and cached full-vocabulary
   logits.
3. Loss: for every training batch of one epoch, the student loss (both tasks, lambda 0.3, T 2, target mask)
   from each cached source at the same student weights as the live one, at the initial student (the worst
   case: far from the assistant) and after the timed live steps; prints the largest and mean difference.
4. Time: ``--steps`` optimiser steps (forward, backward, AdamW) from the same start for each source,
   interleaved round-robin so that machine load affects them alike; prints the median step time of each and
   the cached / live ratio, and the one-off time to build each cache file.

5. ``--llama``: the same timing on a pair of randomly initialised transformers Llama models built from configs,
   with the parameter ratio of the reference pair (assistant 5.8M / student 2.6M = 2.27x, as 7B / 3B), on
   sequences of 128 tokens (the last 64 are targets), batch 8, the student trained through LoRA adapters as
   in the reference (``--full-finetune``: every weight): there the step is compute-bound, as on the
   reference's GPUs, where the tiny VLM's CPU step is dominated by per-operation overhead. (Its loss gap is
   printed too, but a random assistant's tail is nearly flat, which the top-k estimate handles exactly: the
   loss figure that means something is the tiny VLM's.)

Everything runs on CPU with ``torch.set_num_threads(--threads)`` (default 1).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch
from mulcot_tiny.model import TinyVLM, _net_config
from mulcot_tiny.settings import vlm_settings
from mulcot_tiny.training import TASKS, ItemTable, KDOptions, LiveAssistant, TinyTask, cached_assistant
from mulcot_tiny.vlm import VLMNet, stack_pixels

from mulcot_bench.data.synthetic import generate
from mulcot_bench.types import FitContext, ModelCard, Splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=int(vlm_settings("student")["kd_top_k"]), help="top-k of the cache")
    ap.add_argument("--steps", type=int, default=30, help="timed optimiser steps per source")
    ap.add_argument("--assistant-epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=None, help="student batch (default: its setting)")
    ap.add_argument("--assistant-dir", help="reuse (or save) the trained assistant in this folder")
    ap.add_argument("--llama", action="store_true", help="time a Llama pair built from configs instead")
    ap.add_argument("--full-finetune", action="store_true", help="--llama: train every student weight, not LoRA")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.llama:
        llama(args.k, args.steps, not args.full_finetune)
        return

    data = generate(seed=13)
    assistant = _assistant(data, args.assistant_epochs, Path(args.assistant_dir) if args.assistant_dir else None)
    student = TinyVLM(ModelCard("tiny-vlm-student", "student", "bench"))
    st = student.settings
    student.tokenizer = tok = assistant.tokenizer
    assert tok is not None and assistant.net is not None
    train = data.train
    items = ItemTable(
        *stack_pixels([s.image for s in train]),
        {task: [student._example(s, task) for s in train] for task in TASKS},
        [student._image_words(s) for s in train],
    )
    a_items = ItemTable(items.pixels, items.has_image, {t: [assistant._example(s, t) for s in train] for t in TASKS})
    kd = KDOptions(lam=float(st["kd_lambda"]), temperature=float(st["kd_temperature"]))
    live = LiveAssistant(assistant.net, a_items, tok.pad_id, kd.mask)
    torch.manual_seed(0)
    net = VLMNet(_net_config(st, len(tok)))

    def task_for(source: object) -> TinyTask:
        return TinyTask(copy.deepcopy(net), items, tok.pad_id, kd, source, float(st["image_words_weight"]), [], list)

    print(f"vocabulary: {len(tok)} ids; student {net.n_params:,} parameters")
    sources: dict[str, object] = {"live": live}
    with tempfile.TemporaryDirectory() as tmp:
        for name, k in ((f"cached k={args.k}", args.k), ("cached full vocabulary", 0)):
            t0 = time.perf_counter()
            sources[name] = cached_assistant(live, Path(tmp) / f"k{k}.safetensors", k, kd.temperature, "a", len(tok))
            size = (Path(tmp) / f"k{k}.safetensors").stat().st_size
            print(f"{name}: cache built in {time.perf_counter() - t0:.1f} s, {size / 2**20:.1f} MiB")
        tasks = {name: task_for(src) for name, src in sources.items()}
        for t in tasks.values():
            t.load_state_dict(tasks["live"].state_dict())  # the same image-words head too

        bs = args.batch_size or int(st["batch_size"])
        order = torch.randperm(len(items), generator=torch.Generator().manual_seed(1)).tolist()
        batches = [order[s : s + bs] for s in range(0, len(order), bs)]
        _loss_gaps(tasks, batches, "the initial student")

        times = _time_steps(tasks, batches, args.steps)
        live_ms = statistics.median(times["live"]) * 1000
        for name, ts in times.items():
            ms = statistics.median(ts) * 1000
            print(f"step time {name}: median {ms:.1f} ms over {len(ts)} steps ({ms / live_ms:.2f}x live)")
        trained = tasks["live"].state_dict()
        for t in tasks.values():
            t.load_state_dict(trained)
        _loss_gaps(tasks, batches, f"the student after {args.steps + 3} live steps")


def _assistant(data: Splits, epochs: int, saved: Path | None) -> TinyVLM:
    """The tiny-vlm-assistant: loaded from ``saved`` when it holds one, else trained (and saved there)."""
    t0 = time.perf_counter()
    assistant = TinyVLM(ModelCard("tiny-vlm-assistant", "assistant", "bench", settings={"epochs": epochs}))
    if saved is not None and (saved / "config.json").is_file():
        assistant.load(saved)
        print(f"assistant loaded from {saved} ({assistant.params:,} parameters)")
    else:
        assistant.fit(data.train, data.dev, FitContext(seed=42, dataset="synthetic", level="aspect"))
        print(f"assistant trained in {time.perf_counter() - t0:.1f} s ({assistant.params:,} parameters)")
        if saved is not None:
            assistant.save(saved)
    return assistant


def _time_steps(tasks: dict[str, TinyTask], batches: list[list[int]], steps: int) -> dict[str, list[float]]:
    """Seconds of each timed optimiser step per source, round-robin over the sources (3 warm-up steps first)."""
    opts = {n: torch.optim.AdamW([p for p in t.parameters() if p.requires_grad], lr=4e-3) for n, t in tasks.items()}
    times: dict[str, list[float]] = {n: [] for n in tasks}
    for step in range(steps + 3):
        b = batches[step % len(batches)]
        for name, t in tasks.items():
            t0 = time.perf_counter()
            loss, _ = t(b)
            loss.backward()
            opts[name].step()
            opts[name].zero_grad(set_to_none=True)
            if step >= 3:  # warm-up steps are not timed
                times[name].append(time.perf_counter() - t0)
    return times


def llama(k: int, steps: int, lora: bool, batch: int = 8, length: int = 128, vocab: int = 4096) -> None:
    """Live vs cached KD step time on a randomly initialised Llama assistant (5.8M) and student (2.6M)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from mulcot_bench.training.cached import CachedLogits, TopKWriter
    from mulcot_bench.training.losses import kd_loss

    common = dict(vocab_size=vocab, max_position_embeddings=512, tie_word_embeddings=True, num_attention_heads=4)
    torch.manual_seed(0)
    a_cfg = LlamaConfig(hidden_size=256, intermediate_size=688, num_hidden_layers=6, num_key_value_heads=4, **common)
    s_cfg = LlamaConfig(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_key_value_heads=4, **common)
    assistant = LlamaForCausalLM(a_cfg).eval()
    student = LlamaForCausalLM(s_cfg)
    n_a = sum(p.numel() for p in assistant.parameters())
    n_s = sum(p.numel() for p in student.parameters())
    print(f"llama pair: assistant {n_a:,} / student {n_s:,} parameters ({n_a / n_s:.2f}x), batch {batch} x {length}")
    if lora:  # the reference student: LoRA r16 alpha 32 dropout 0.05 on q, k, v, o, gate, up, down
        from peft import LoraConfig, get_peft_model

        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        student = get_peft_model(student, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=targets))
        n_t = sum(p.numel() for p in student.parameters() if p.requires_grad)
        print(f"llama student trains LoRA adapters only ({n_t:,} parameters), as the reference")
    gen = torch.Generator().manual_seed(1)
    data = [torch.randint(0, vocab, (batch, length), generator=gen) for _ in range(4)]
    labels = [torch.where(torch.arange(length) < length // 2, -100, ids) for ids in data]
    kw = dict(lam=0.3, temperature=2.0, shift=True)
    with tempfile.TemporaryDirectory() as tmp:
        writer = TopKWriter(["lm"], len(data), k, 2.0)
        t0 = time.perf_counter()
        with torch.no_grad():
            for i, (ids, y) in enumerate(zip(data, labels, strict=True)):
                writer.add("lm", i, assistant(ids).logits[:, :-1][y[:, 1:] != -100])
        cache = CachedLogits.load(writer.save(Path(tmp) / "llama.safetensors", "targets", "bench"))
        print(f"llama cache (k={k}): built in {time.perf_counter() - t0:.1f} s")

        def live_loss(model: torch.nn.Module, i: int) -> torch.Tensor:
            with torch.no_grad():
                za = assistant(data[i]).logits
            return kd_loss(model(data[i]).logits, za, labels[i], **kw)

        def cached_loss(model: torch.nn.Module, i: int) -> torch.Tensor:
            return kd_loss(model(data[i]).logits, cache.get("lm", [i]), labels[i], **kw)

        with torch.no_grad():
            gap = max(abs(float(live_loss(student, i)) - float(cached_loss(student, i))) for i in range(len(data)))
        print(f"llama loss |cached - live|: max {gap:.2e} (random assistant: nearly flat tail)")
        runs = {"live": (copy.deepcopy(student), live_loss), "cached": (copy.deepcopy(student), cached_loss)}
        opts = {
            n: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-3) for n, (m, _) in runs.items()
        }
        times: dict[str, list[float]] = {n: [] for n in runs}
        for step in range(steps + 2):
            for name, (model, fn) in runs.items():
                t0 = time.perf_counter()
                fn(model, step % len(data)).backward()
                opts[name].step()
                opts[name].zero_grad(set_to_none=True)
                if step >= 2:
                    times[name].append(time.perf_counter() - t0)
        live_ms = statistics.median(times["live"]) * 1000
        for name, ts in times.items():
            ms = statistics.median(ts) * 1000
            print(f"llama step time {name}: median {ms:.1f} ms over {len(ts)} steps ({ms / live_ms:.2f}x live)")


def _loss_gaps(tasks: dict[str, TinyTask], batches: list[list[int]], what: str) -> None:
    """Largest and mean |cached loss - live loss| over the batches, at the same student weights."""
    gaps: dict[str, list[float]] = {n: [] for n in tasks if n != "live"}
    with torch.no_grad():
        for b in batches:
            ref = float(tasks["live"](b)[0])
            for name in gaps:
                gaps[name].append(abs(float(tasks[name](b)[0]) - ref))
    for name, g in gaps.items():
        print(f"loss |{name} - live| at {what}: max {max(g):.2e}, mean {statistics.mean(g):.2e} ({len(g)} batches)")


if __name__ == "__main__":
    main()
