"""Speed and memory of the embedded model: load time, prefill and decode tokens/s, peak RSS.

decode_tok_s is raw llama.cpp decoding after a 16-token prompt; chat_tok_s is a whole chat
completion (template, prefill, sampler, detokenising) divided by the tokens it generated.

Usage: python bench/model_speed.py [--threads N] [--prompt-tokens N] [--gen-tokens N] [--out FILE]
Prints a table and writes JSON (default bench/results/model_speed.json).
"""

import argparse
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from redline.models import GGUFEngine, check_gguf, smollm2_path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--prompt-tokens", type=int, default=500)
    parser.add_argument("--gen-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/model_speed.json"))
    args = parser.parse_args()

    path = check_gguf(smollm2_path())
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    engine = GGUFEngine(path, n_ctx=2048, n_threads=args.threads)
    load_s = time.perf_counter() - started
    llm = engine._llama  # the bench measures the raw engine, below the chat template

    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 60)
    prompt = engine.tokenize(text)[: args.prompt_tokens]
    prefill, decode, chat = [], [], []
    messages = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    for _ in range(args.repeats):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        prefill.append(len(prompt) / (time.perf_counter() - t0))

        llm.reset()
        tokens = llm.generate(prompt[:16], temp=0.0)  # generate() never stops by itself
        next(tokens)  # prefill and the first token
        t0 = time.perf_counter()
        for _ in range(args.gen_tokens):
            next(tokens)
        decode.append(args.gen_tokens / (time.perf_counter() - t0))

        t0 = time.perf_counter()
        usage = engine.chat(messages, max_tokens=args.gen_tokens, temperature=0.0)["usage"]
        chat.append(usage["completion_tokens"] / (time.perf_counter() - t0))

    result = {
        "model": str(path.name),
        "threads": args.threads,
        "prompt_tokens": len(prompt),
        "gen_tokens": args.gen_tokens,
        "repeats": args.repeats,
        "load_s": round(load_s, 3),
        "prefill_tok_s": round(statistics.median(prefill), 1),
        "decode_tok_s": round(statistics.median(decode), 1),
        "chat_tok_s": round(statistics.median(chat), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_load_mb": round(rss_before, 1),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    table = Table(title="Embedded model speed (SmolLM2-135M-Instruct Q4_1, llama.cpp)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("threads", "load_s", "prefill_tok_s", "decode_tok_s", "chat_tok_s", "peak_rss_mb"):
        table.add_row(key, str(result[key]))
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
