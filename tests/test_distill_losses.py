"""The KD loss against hand computations: both masks, with and without T^2, mismatched vocabularies, top-k."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from mulcot_bench.training.losses import (  # noqa: E402
    HiddenProjection,
    hidden_loss,
    kd_loss,
    kd_terms,
    kl_topk,
    topk_from_logits,
)

# batch of 1 sequence x 4 positions; labels: -100 = prompt, 0 = token id 0 (dropped by the reference mask)
S = [[1.0, -0.5, 2.0, 0.0, 0.7], [0.3, 0.2, -1.0, 1.5, -0.2], [-2.0, 0.0, 0.5, 0.5, 1.0], [0.9, 0.1, 0.0, -0.4, 0.3]]
A = [[0.5, 0.5, 1.0, -1.0, 0.2], [2.0, -0.3, 0.0, 0.1, 0.4], [0.0, 1.0, -1.0, 3.0, -0.5], [1.2, -1.0, 0.3, 0.0, 0.0]]
LABELS = [-100, 3, 0, 2]


def _softmax(row: list[float], t: float) -> list[float]:
    z = sum(math.exp(x / t) for x in row)
    return [math.exp(x / t) / z for x in row]


def _kl(s_row: list[float], a_row: list[float], t: float) -> float:
    ps, pa = _softmax(s_row, t), _softmax(a_row, t)
    return sum(p * (math.log(p) - math.log(q)) for p, q in zip(pa, ps, strict=True))


def _ce(row: list[float], gold: int) -> float:
    return math.log(sum(math.exp(x) for x in row)) - row[gold]


def _tensors(s=S, a=A, labels=LABELS):  # noqa: ANN001, ANN202
    return torch.tensor([s]), torch.tensor([a]), torch.tensor([labels])


@pytest.mark.parametrize("t2", [False, True])
def test_targets_mask_matches_hand(t2: bool) -> None:
    zs, za, y = _tensors()
    sel = [i for i, g in enumerate(LABELS) if g != -100]  # positions 1, 2, 3
    ce = sum(_ce(S[i], LABELS[i]) for i in sel) / len(sel)
    kl = sum(_kl(S[i], A[i], 2.0) for i in sel) / len(sel)
    want = 0.7 * ce + 0.3 * (4.0 if t2 else 1.0) * kl
    got = kd_loss(zs, za, y, lam=0.3, temperature=2.0, t2=t2)
    assert float(got) == pytest.approx(want, rel=1e-6)
    terms = kd_terms(zs, za, y, lam=0.3, temperature=2.0)
    assert (terms.n_ce, terms.n_kd) == (3, 3)
    assert float(terms.ce) == pytest.approx(ce, rel=1e-6) and float(terms.kl) == pytest.approx(kl, rel=1e-6)


@pytest.mark.parametrize("t2", [False, True])
def test_reference_mask_matches_hand(t2: bool) -> None:
    """``labels != 0``: the prompt position (-100) is in, the position whose gold id is 0 is out."""
    zs, za, y = _tensors()
    ce_sel = [1, 2, 3]
    kd_sel = [0, 1, 3]
    ce = sum(_ce(S[i], LABELS[i]) for i in ce_sel) / 3
    kl = sum(_kl(S[i], A[i], 2.0) for i in kd_sel) / 3
    want = 0.7 * ce + 0.3 * (4.0 if t2 else 1.0) * kl
    got = kd_loss(zs, za, y, lam=0.3, temperature=2.0, t2=t2, mask="reference")
    assert float(got) == pytest.approx(want, rel=1e-6)
    targets = kd_loss(zs, za, y, lam=0.3, temperature=2.0, t2=t2)
    assert abs(float(got) - float(targets)) > 1e-3  # the two masks really differ here


@pytest.mark.parametrize("mask", ["targets", "reference"])
def test_mismatched_vocab_uses_shared_prefix(mask: str) -> None:
    """Student vocab 5, assistant 4: KL over ids 0..3 (both renormalised), CE over the student's 5."""
    a4 = [row[:4] for row in A]
    zs, za, y = _tensors(a=a4)
    kd_sel = [1, 2, 3] if mask == "targets" else [0, 1, 3]
    ce = sum(_ce(S[i], LABELS[i]) for i in (1, 2, 3)) / 3
    kl = sum(_kl(S[i][:4], a4[i], 1.5) for i in kd_sel) / 3
    got = kd_loss(zs, za, y, lam=0.4, temperature=1.5, mask=mask)
    assert float(got) == pytest.approx(0.6 * ce + 0.4 * kl, rel=1e-6)
    # and the other way round: a bigger assistant is cut to the student's 5 ids
    a6 = [[*row, 9.0] for row in A]
    kl6 = sum(_kl(S[i], A[i], 1.5) for i in kd_sel) / 3
    got6 = kd_loss(zs, torch.tensor([a6]), y, lam=0.4, temperature=1.5, mask=mask)
    assert float(got6) == pytest.approx(0.6 * ce + 0.4 * kl6, rel=1e-6)


def test_lambda_zero_and_pure_kl() -> None:
    zs, za, y = _tensors()
    ce = sum(_ce(S[i], LABELS[i]) for i in (1, 2, 3)) / 3
    assert float(kd_loss(zs, None, y, lam=0.0)) == pytest.approx(ce, rel=1e-6)
    kl = sum(_kl(S[i], A[i], 3.0) for i in (1, 2, 3)) / 3
    assert float(kd_loss(zs, za, y, lam=1.0, temperature=3.0)) == pytest.approx(kl, rel=1e-6)
    with pytest.raises(ValueError, match="assistant"):
        kd_loss(zs, None, y, lam=0.3)
    with pytest.raises(ValueError, match="mask"):
        kd_loss(zs, za, y, mask="everything")


def test_shift_is_hugging_face_convention() -> None:
    zs, za, y = _tensors()
    shifted = torch.tensor([[-100, *LABELS[:-1]]])  # labels one step to the right
    a = kd_loss(zs[:, :3], za[:, :3], torch.tensor([LABELS[1:]]), lam=0.3)
    b = kd_loss(zs, za, torch.cat([shifted[:, :1], torch.tensor([LABELS[1:]])], 1), lam=0.3, shift=True)
    assert float(a) == pytest.approx(float(b), rel=1e-6)


def test_no_positions_is_zero_with_a_graph() -> None:
    zs, za, _ = _tensors()
    zs.requires_grad_(True)
    loss = kd_loss(zs, za, torch.full((1, 4), -100), lam=0.3)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert zs.grad is not None and float(zs.grad.abs().sum()) == 0.0


def test_topk_full_vocab_equals_full_kl() -> None:
    zs, za, y = _tensors()
    sel = y != -100
    cached = topk_from_logits(za[sel], None, 2.0)
    full = kd_loss(zs, za, y, lam=0.3, temperature=2.0)
    top = kd_loss(zs, cached, y, lam=0.3, temperature=2.0)
    assert float(top) == pytest.approx(float(full), abs=1e-6)


def test_topk_tail_matches_hand() -> None:
    """k = 2 of 5: exact top terms + the tail's sum p log p - (p_tail / 3) * sum over the tail of log p_s."""
    t = 2.0
    s_row, a_row = S[1], A[1]
    cached = topk_from_logits(torch.tensor([a_row]), 2, t)
    ids = sorted(range(5), key=lambda i: -a_row[i])[:2]
    tail = [i for i in range(5) if i not in ids]
    assert cached.indices.tolist() == [ids]
    pa, ps = _softmax(a_row, t), _softmax(s_row, t)
    p_tail = sum(pa[i] for i in tail)
    want = sum(pa[i] * (math.log(pa[i]) - math.log(ps[i])) for i in ids)
    want += sum(pa[i] * math.log(pa[i]) for i in tail) - p_tail / 3 * sum(math.log(ps[i]) for i in tail)
    assert float(cached.tail[0]) == pytest.approx(math.log(p_tail), rel=1e-6)
    got = kl_topk(torch.tensor([s_row]), cached, t)
    assert float(got[0]) == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        kl_topk(torch.tensor([s_row]), cached, 1.0)
    with pytest.raises(ValueError, match="vocab_limit"):
        kl_topk(torch.tensor([s_row[:4]]), cached, t)


def test_topk_is_exact_when_the_assistant_tail_is_flat() -> None:
    a_row = [3.0, 2.0, -1.0, -1.0, -1.0, -1.0]  # the tail (ids 2..5) is flat
    s_row = [0.5, 1.0, 0.3, -2.0, 0.0, 1.7]
    cached = topk_from_logits(torch.tensor([a_row]), 2, 2.0)
    got = float(kl_topk(torch.tensor([s_row]), cached, 2.0)[0])
    assert got == pytest.approx(_kl(s_row, a_row, 2.0), rel=1e-5)


def test_topk_gradients_are_finite() -> None:
    torch.manual_seed(0)
    zs = (torch.randn(6, 50) * 8).requires_grad_(True)
    za = torch.randn(6, 50) * 8
    for k in (1, 5, 50):
        zs.grad = None
        kl_topk(zs, topk_from_logits(za, k, 2.0), 2.0).mean().backward()
        assert zs.grad is not None and bool(torch.isfinite(zs.grad).all())


def test_hidden_projection_learns() -> None:
    torch.manual_seed(0)
    proj = HiddenProjection(3, 4)
    hs, ha = torch.randn(1, 4, 3), torch.randn(1, 4, 4)
    y = torch.tensor([LABELS])
    loss = hidden_loss(proj, hs, ha, y)
    want = ((proj(hs[0, 1:]) - ha[0, 1:]) ** 2).mean()
    assert float(loss.detach()) == pytest.approx(float(want.detach()), rel=1e-6)
    loss.backward()
    assert proj.proj.weight.grad is not None
