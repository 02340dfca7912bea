"""Heads over MiniLM's token states against the svm guard's head, in minutes per variant.

Embeds once the svm backend's training and calibration sample (default constitution, input
stage, seed 0: the sample `redline guard train` gives it) and every decoded view of the public
sets' texts, keeping each token's state: the last layer from the ONNX encoder the guard uses
and, for the variants that need them, layers 4-5 from the wheel's BERT in torch. Each variant
is then fitted on those states and reported as the guard reports: AUPRC of the maximum score
over a text's views, and the flag rates at the threshold calibrated to 5% false positives on
the held-out permitted examples. Input stage only.

Variants: `svm` (the guard's head: RBF SVM on the mean vector), `svm-inner` (the same without
the [CLS] and [SEP] tokens), `mlp` (attention pooling with 4 learned queries plus the mean
vector, an MLP head, trained with torch), `attn-svm` (the SVM on the mean vector and that
MLP's 4 attention-pooled vectors), `layers` (the sum of the standardised margins of SVMs on
the mean vectors of layers 6 and 5), `finetune` (the last layer fine-tuned for an epoch under
a logistic head, then the SVM on its mean vectors).

Usage: python bench/guard_heads.py --data ../shared/data [--variants svm,mlp] [--cache FILE]
Needs torch. The states are cached in bench/results/ (about 1 GB; delete to re-embed).
"""

import argparse
import copy
import json
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from sklearn.metrics import average_precision_score
from sklearn.svm import SVC
from torch import nn

from redline.guard import load_constitution
from redline.guard._backends import SVMBackend
from redline.guard._encoder import Encoder, model_dir
from redline.guard._evaluate import _prf, load_eval_data
from redline.guard._normalize import views
from redline.guard._train import calibrate, stage_examples, stage_sample

SETS = {
    "xstest": ("xstest", "xstest"),
    "jbb": ("jbb_behaviors", "jbb"),
    "moderation": ("openai_moderation/samples-1680.jsonl.gz", "openai-moderation"),
}
Scorer = Callable[[list[int]], np.ndarray]


def sample(seed: int = 0) -> dict[str, list[tuple[str, int]]]:
    """The input stage's training and calibration sample, drawn as `train_guard` draws it."""
    examples = stage_examples(load_constitution("default"), seed)["input"]
    train, calib = stage_sample(examples, "input", SVMBackend.max_train, 0.2, seed)
    return {
        "train": [(e.text, e.label) for e in train],
        "calib": [(e.text, e.label) for e in calib],
    }


def embed_states(texts: list[str], lower: bool) -> dict[str, list[np.ndarray]]:
    """Token states per text (float16): layer 6 by ONNX Runtime; layers 4-5 by torch if asked."""
    encoder = Encoder()
    tokens = encoder.tokens(texts)
    order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
    out: dict[str, list[Any]] = {"l6": [None] * len(texts)}
    for start in range(0, len(order), 16):
        chunk = order[start : start + 16]
        hidden, _ = encoder.hidden([tokens[i] for i in chunk], threads=2)
        for j, i in enumerate(chunk):
            out["l6"][i] = hidden[j, : len(tokens[i])].astype(np.float16)
    if lower:
        from transformers import AutoModel

        model = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()
        out["l4"], out["l5"] = [None] * len(texts), [None] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), 32):
                chunk = order[start : start + 32]
                width = max(len(tokens[i]) for i in chunk)
                ids = torch.tensor([tokens[i] + [0] * (width - len(tokens[i])) for i in chunk])
                hidden = model(
                    input_ids=ids, attention_mask=(ids != 0).long(), output_hidden_states=True
                ).hidden_states
                for j, i in enumerate(chunk):
                    for layer in (4, 5):
                        state = hidden[layer][j, : len(tokens[i])].numpy()
                        out[f"l{layer}"][i] = state.astype(np.float16)
    return out


def _batch(states: list[np.ndarray], idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    h = np.zeros((len(idx), max(len(states[i]) for i in idx), 384), dtype=np.float32)
    m = np.zeros(h.shape[:2], dtype=np.float32)
    for j, i in enumerate(idx):
        h[j, : len(states[i])], m[j, : len(states[i])] = states[i], 1
    return torch.from_numpy(h), torch.from_numpy(m)


def _unit(v: np.ndarray) -> np.ndarray:
    out: np.ndarray = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return out


def mean_vectors(states: list[np.ndarray], idx: list[int], inner: bool = False) -> np.ndarray:
    """Unit mean vectors of the texts' token states (`inner`: without [CLS] and [SEP])."""
    rows = [states[i][1:-1] if inner and len(states[i]) > 2 else states[i] for i in idx]
    return _unit(np.stack([r.astype(np.float32).mean(0) for r in rows]))


def _svm(x: np.ndarray, y: np.ndarray, gamma: float = 1.0) -> SVC:
    return SVC(C=3.0, gamma=gamma, class_weight="balanced", random_state=0).fit(x, y)


class AttentionHead(nn.Module):
    """Learned queries pool the token states; with the mean vector they feed an MLP."""

    def __init__(self, queries: int = 4, hidden: int = 256) -> None:
        super().__init__()
        self.query = nn.Linear(384, queries)
        self.mlp = nn.Sequential(
            nn.Dropout(0.1), nn.Linear(384 * (queries + 1), hidden), nn.GELU(),
            nn.Dropout(0.1), nn.Linear(hidden, 1),
        )  # fmt: skip

    def pooled(self, h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        weights = self.query(h).masked_fill(m[..., None] == 0, -1e9).softmax(1)
        return torch.einsum("btk,btd->bkd", weights, h)

    def forward(self, h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        mean = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True)
        mean = mean / mean.norm(dim=1, keepdim=True)
        pooled = self.pooled(h, m).flatten(1) / 8.0
        out: torch.Tensor = self.mlp(torch.cat([mean, pooled], 1))[:, 0]
        return out


def _train(
    module: nn.Module,
    loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    states: list[np.ndarray],
    idx: list[int],
    y: np.ndarray,
    epochs: int,
    rates: list[tuple[nn.Module, float]],
) -> None:
    """Class-balanced logistic loss over batches of similar length, AdamW, one-cycle rates."""
    rng = np.random.default_rng(0)
    order = np.argsort([len(states[i]) for i in idx], kind="stable")
    batches = [order[s : s + 32] for s in range(0, len(order), 32)]
    groups = [{"params": part.parameters(), "lr": lr} for part, lr in rates]
    opt = torch.optim.AdamW(groups, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, [lr for _, lr in rates], total_steps=epochs * len(batches)
    )
    loss = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(float((y == 0).sum() / (y == 1).sum())))
    module.train()
    for _ in range(epochs):
        for b in rng.permutation(len(batches)):
            h, m = _batch(states, [idx[j] for j in batches[b]])
            value = loss(loss_of(h, m), torch.tensor(y[batches[b]], dtype=torch.float32))
            opt.zero_grad()
            value.backward()
            opt.step()
            sched.step()
    module.eval()


def _apply(fn: Callable[..., torch.Tensor], states: list[np.ndarray], idx: list[int]) -> Any:
    order = np.argsort([len(states[i]) for i in idx])
    parts: list[np.ndarray] = [np.empty(0)] * len(idx)
    with torch.no_grad():
        for s in range(0, len(idx), 128):
            chunk = order[s : s + 128]
            for j, row in zip(chunk, fn(*_batch(states, [idx[j] for j in chunk])), strict=True):
                parts[j] = row.numpy()
    return np.stack(parts)


def variant(name: str, st: dict[str, list[np.ndarray]], idx: list[int], y: np.ndarray) -> Scorer:
    """Fit one variant on the training texts `idx` (labels `y`); its scorer."""
    l6 = st["l6"]
    if name in ("svm", "svm-inner"):
        inner = name == "svm-inner"
        svm = _svm(mean_vectors(l6, idx, inner), y)
        return lambda ix: svm.decision_function(mean_vectors(l6, ix, inner))
    if name in ("mlp", "attn-svm"):
        torch.manual_seed(0)
        head = AttentionHead()
        _train(head, head, l6, idx, y, 8, [(head, 1e-3)])
        if name == "mlp":
            return lambda ix: _apply(head, l6, ix)

        def features(ix: list[int]) -> np.ndarray:
            pooled = _unit(_apply(head.pooled, l6, ix)).reshape(len(ix), -1) / 2
            return np.hstack([mean_vectors(l6, ix), 0.5 * pooled]) / np.sqrt(1.25)

        svm = _svm(features(idx), y)
        return lambda ix: svm.decision_function(features(ix))
    if name == "layers":
        top, fifth = _svm(mean_vectors(l6, idx), y), _svm(mean_vectors(st["l5"], idx), y, 2.0)
        scale = [float(np.std(m.decision_function(m.support_vectors_))) for m in (top, fifth)]
        return lambda ix: (
            top.decision_function(mean_vectors(l6, ix)) / scale[0]
            + fifth.decision_function(mean_vectors(st["l5"], ix)) / scale[1]
        )
    if name == "finetune":
        from transformers import AutoModel

        torch.manual_seed(0)
        bert = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager")
        layer, head = copy.deepcopy(bert.encoder.layer[5]), nn.Linear(384, 1)
        for module in layer.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0

        def pooled(h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            out = layer(h, attention_mask=(1.0 - m[:, None, None, :]) * -1e9)
            h = out[0] if isinstance(out, tuple) else out
            mean = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True)
            return mean / mean.norm(dim=1, keepdim=True)

        both = nn.ModuleList([layer, head])
        rates = [(layer, 5e-5), (head, 1e-2)]
        _train(both, lambda h, m: head(20.0 * pooled(h, m))[:, 0], st["l5"], idx, y, 1, rates)
        svm = _svm(_apply(pooled, st["l5"], idx), y)
        return lambda ix: svm.decision_function(_apply(pooled, st["l5"], ix))
    raise SystemExit(f"unknown variant {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--variants", default="svm,svm-inner,mlp,attn-svm,layers,finetune")
    parser.add_argument("--cache", type=Path, default=Path("bench/results/guard_heads.pkl"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/guard_heads.json"))
    args = parser.parse_args()
    names = args.variants.split(",")
    torch.set_num_threads(2)

    data = sample()
    sets = {k: load_eval_data(args.data / path, fmt) for k, (path, fmt) in SETS.items()}
    texts = sorted(
        {t for part in data.values() for t, _ in part}
        | {v.text for rows in sets.values() for r in rows for v in views(r.text)}
    )
    lower = any(n in ("layers", "finetune") for n in names)
    cached = pickle.loads(args.cache.read_bytes()) if args.cache.is_file() else None
    if cached is None or cached["texts"] != texts or (lower and "l5" not in cached["states"]):
        started = time.perf_counter()
        cached = {"texts": texts, "states": embed_states(texts, lower)}
        print(f"embedded {len(texts)} texts in {time.perf_counter() - started:.0f} s")
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_bytes(pickle.dumps(cached, protocol=5))
    states, where = cached["states"], {t: i for i, t in enumerate(texts)}
    train = [where[t] for t, _ in data["train"]]
    calib = [where[t] for t, _ in data["calib"]]
    y_train = np.asarray([label for _, label in data["train"]])
    y_calib = np.asarray([label for _, label in data["calib"]])
    scored = sorted(set(calib) | {where[v.text] for rows in sets.values() for r in rows
                                  for v in views(r.text)})  # fmt: skip

    table = Table(title="Heads on MiniLM token states (input stage, default constitution)")
    for column in ("variant", "fit s", "XSTest AUPRC", "XSTest unsafe / safe flagged",
                   "JBB AUPRC", "JBB harmful / benign flagged", "moderation AUPRC",
                   "moderation F1"):  # fmt: skip
        table.add_column(column, justify="right")
    results = []
    for name in names:
        started = time.perf_counter()
        scorer = variant(name, states, train, y_train)
        fit_s = time.perf_counter() - started
        score = dict(zip(scored, scorer(scored), strict=True))
        threshold = calibrate(np.asarray([score[i] for i in calib])[y_calib == 0], 0.05)
        row: dict[str, Any] = {"variant": name, "fit_seconds": round(fit_s, 1)}
        for key, rows in sets.items():
            s = np.asarray([max(score[where[v.text]] for v in views(r.text)) for r in rows])
            y = np.asarray([r.label for r in rows])
            flags = s > threshold
            row[key] = {
                "auprc": round(float(average_precision_score(y, s)), 3),
                "tpr": round(float(flags[y == 1].mean()), 3),
                "fpr": round(float(flags[y == 0].mean()), 3),
                "f1": round(_prf(flags, y)[2], 3),
            }
        results.append(row)
        x, j, m = row["xstest"], row["jbb"], row["moderation"]
        table.add_row(
            name, f"{fit_s:.0f}", f"{x['auprc']:.3f}", f"{x['tpr']:.1%} / {x['fpr']:.1%}",
            f"{j['auprc']:.3f}", f"{j['tpr']:.0%} / {j['fpr']:.0%}", f"{m['auprc']:.3f}",
            f"{m['f1']:.3f}",
        )  # fmt: skip
    Console(width=150).print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
