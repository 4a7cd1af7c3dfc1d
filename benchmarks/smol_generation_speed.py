"""Batched KV-cache generation of chains: smol-vlm student vs assistant, and our path vs bare ``generate``.

Usage: python benchmarks/smol_generation_speed.py [--data-root DIR] [--batch N] [--new-tokens N] [--rounds N]
    [--threads N] [--profile]

Builds the smol-vlm assistant (30 SmolLM2 layers) and student (20 layers) from their registered cards (fresh
projector and LoRA: speed does not depend on training), takes the first ``--batch`` Twitter-2015 test items
(images and reasoning prompts), and in one process, in alternating rounds, times:

- ``ours``: ``SmolBackend.generate`` (visual prefix from the cached image features, chat template, then
  transformers' ``generate`` with its KV cache), what prediction calls per batch;
- ``bare generate``: transformers' ``generate`` alone on the same input embeddings and options.

Every row generates exactly ``--new-tokens`` tokens (the stop token is made unreachable), so tokens/s is
rows x new tokens / seconds. Prints the best round of each, the ratios, the per-token matrix-multiply work of
each model (its share in the LM head) and, with ``--profile``, a torch profiler summary of the student's call.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from speed_common import default_data_root, load_line, missing_twitter, timed


def backend_for(role: str) -> tuple[Any, Any]:
    """A set-up smol-vlm backend and its model for ``role`` (the registered card's settings)."""
    from mulcot_hf.model import SmolVLM
    from mulcot_hf.plugin import SMOL_ASSISTANT
    from mulcot_hf.settings import smol_card

    name = SMOL_ASSISTANT if role == "assistant" else "smol-vlm-student"
    model = SmolVLM(smol_card(name, role, assistant=None if role == "assistant" else SMOL_ASSISTANT))
    backend = model.make_backend()
    backend.setup()
    backend.train(False)
    backend.stop_ids = [backend.vocab_size()]  # an id no logit has: every row runs to the token budget
    return model, backend


def per_token_macs(lm: Any) -> tuple[int, int]:
    """Multiply-accumulates per generated token in the decoder layers and in the LM head (attention over the
    cache left out: small at these lengths)."""
    import torch

    head = lm.get_output_embeddings().weight.numel()
    linear = sum(m.weight.numel() for m in lm.modules() if isinstance(m, torch.nn.Linear))
    return linear - head, head


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=default_data_root())
    ap.add_argument("--batch", type=int, default=4, help="rows per generate call (smol-vlm's eval_batch_size)")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: safe on a shared machine)")
    ap.add_argument("--profile", action="store_true", help="torch profiler summary of the student's call")
    args = ap.parse_args()
    if missing_twitter(args.data_root):
        return 2
    import torch
    from mulcot_hf.backend import generation_kwargs, pad_embeddings

    from mulcot_bench.data.loaders import load_twitter

    torch.set_num_threads(args.threads)
    samples = list(load_twitter(args.data_root / "twitter2015", "twitter2015").split("test"))[: args.batch]
    built = {role: backend_for(role) for role in ("assistant", "student")}
    tokens = len(samples) * args.new_tokens
    best: dict[tuple[str, str], float] = {}
    with torch.no_grad():
        calls = {}
        for role, (model, backend) in built.items():
            prompts = [model.prompt(s, "reasoning") for s in samples]
            rows, _ = backend._rows(samples, prompts, None)
            embeds, mask = pad_embeddings(rows, left=True)
            kw = generation_kwargs(backend.st, args.new_tokens, 0.0, backend.stop_ids, backend.pad_id)
            calls[(role, "ours")] = lambda b=backend, p=prompts: b.generate(samples, p, args.new_tokens, 0.0)
            calls[(role, "bare generate")] = lambda b=backend, e=embeds, m=mask, k=kw: b.lm.generate(
                inputs_embeds=e, attention_mask=m, **k)
        for fn in calls.values():  # warm-up: features cached, kernels and allocator primed
            fn()
        print(f"{len(samples)} rows x {args.new_tokens} new tokens, {args.threads} thread(s); {load_line()}")
        for r in range(args.rounds):
            for what, fn in calls.items():
                out, secs = timed(fn)
                assert all(len(row) == args.new_tokens for row in out), "a row stopped early"
                best[what] = min(best.get(what, secs), secs)
                print(f"round {r + 1} {what[0]:<9} {what[1]:<13} {tokens / secs:7.1f} tokens/s ({secs:.2f} s); "
                      f"{load_line()}", flush=True)
    rate = {k: tokens / v for k, v in best.items()}
    for role, (_, backend) in built.items():
        layers, head = per_token_macs(backend.lm)
        print(f"{role}: {backend.lm.config.num_hidden_layers} layers, ours {rate[(role, 'ours')]:.1f} tokens/s, "
              f"bare generate {rate[(role, 'bare generate')]:.1f} tokens/s, ours / bare "
              f"{rate[(role, 'ours')] / rate[(role, 'bare generate')]:.3f}; per token {(layers + head) / 1e6:.1f}M "
              f"MACs ({100 * head / (layers + head):.0f}% in the LM head)")
    a_l, a_h = per_token_macs(built["assistant"][1].lm)
    s_l, s_h = per_token_macs(built["student"][1].lm)
    print(f"student / assistant tokens/s (ours): {rate[('student', 'ours')] / rate[('assistant', 'ours')]:.2f}x "
          f"(goal >= 2x; their per-token work ratio is {(a_l + a_h) / (s_l + s_h):.2f}x)")
    if args.profile:
        with torch.no_grad(), torch.profiler.profile() as prof:
            calls[("student", "ours")]()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
    return 0


if __name__ == "__main__":
    sys.exit(main())
