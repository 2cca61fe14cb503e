#!/usr/bin/env python3
"""Load and throughput for `kiln-run serve`, over loopback only, bounded in count and time.

load (default): REQUESTS requests (64) from CLIENTS concurrent clients (16), mixed prompt and
reply lengths, chat and completions, streaming on and off, repeated REPEAT times (3) against one
server. Checks that every request is answered exactly once (one response, one [DONE] per
stream, no duplicate ids), that `usage` is right (prompt tokens as /tokenize counts them,
completion tokens = max_tokens when finish_reason is "length", totals add up), that the server
is alive after each round, and that its resident memory stays flat across rounds (the last
round within --rss-slack MiB of the first). Reports aggregate tokens/s and p50/p99 latency.

bench: for each concurrency C in --streams (1,8), C clients each ask for one completion of
--tokens tokens (ignore_eos, greedy) at once, --rounds times; reports aggregate generated
tokens/s (median over rounds) and the ratio to the first C. `--url` measures any
OpenAI-compatible server (llama-server included) the same way.

    Tools/serve_load.py --kiln-run .build/release/kiln-run --model M.gguf [--parallel 16]
    Tools/serve_load.py bench --kiln-run .build/release/kiln-run --model M.gguf --parallel 8
    Tools/serve_load.py bench --url http://127.0.0.1:8081   # a server started by hand

Exit status 0 when every check holds. Python's standard library only.
"""
import argparse
import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

DEADLINE_SECONDS = 900  # the whole run stops by itself after this, whatever happens


def start_server(kiln_run, model, parallel, extra):
    process = subprocess.Popen([kiln_run, "serve", model, "--port", "0", "--parallel", str(parallel)] + extra,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    line = ""
    while time.time() < deadline:
        line = process.stderr.readline()
        match = re.search(r"http://(127\.0\.0\.1:\d+)", line)
        if match:
            threading.Thread(target=lambda: process.stderr.read(), daemon=True).start()  # keep the pipe drained
            return process, "http://" + match.group(1)
        if process.poll() is not None:
            break
    process.kill()
    sys.exit(f"serve_load: kiln-run serve did not start: {line}")


def request(base, method, path, body=None, timeout=600):
    """(status, headers, body text); streams are read to the end."""
    url = urllib.parse.urlparse(base)
    assert url.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    data = None if body is None else json.dumps(body)
    connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, dict(response.getheaders()), text


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


PROMPTS = [
    "The capital of France is",
    "Write a short poem about the sea.",
    "Explain, step by step, how a bicycle works, covering the frame, the wheels, the chain, the gears and the brakes, "
    "and say what a rider should check before a long ride. " * 3,
    "def quicksort(items):",
    "List five fruits:",
    "Once upon a time, in a village by a river, there lived an old clockmaker who " * 6,
]


def one(base, index, rng):
    """One mixed request; returns a record of what came back."""
    chat = index % 3 == 0
    stream = index % 2 == 1
    prompt = PROMPTS[rng.randrange(len(PROMPTS))]
    max_tokens = rng.choice([4, 16, 32, 64, 128])
    body = {"max_tokens": max_tokens, "stream": stream, "temperature": rng.choice([0, 0.8]), "seed": index}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if chat:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    start = time.time()
    status, headers, text = request(base, "POST", "/v1/chat/completions" if chat else "/v1/completions", body)
    record = {"index": index, "chat": chat, "stream": stream, "prompt": prompt, "max_tokens": max_tokens, "status": status,
              "seconds": time.time() - start, "ids": set(), "usage": None, "finish": None, "dones": 0, "text": ""}
    if status != 200:
        record["error"] = text
        return record
    if stream:
        for line in text.split("\n"):
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                record["dones"] += 1
                continue
            chunk = json.loads(line[6:])
            record["ids"].add(chunk["id"])
            record["usage"] = chunk.get("usage") or record["usage"]
            for choice in chunk["choices"]:
                record["text"] += (choice["delta"].get("content") or "") if chat else choice["text"]
                record["finish"] = choice["finish_reason"] or record["finish"]
    else:
        whole = json.loads(text)
        record["ids"].add(whole["id"])
        record["usage"] = whole["usage"]
        record["finish"] = whole["choices"][0]["finish_reason"]
        record["text"] = whole["choices"][0]["message"]["content"] if chat else whole["choices"][0]["text"]
        record["dones"] = 1  # a whole response counts as its one answer
    return record


def run_round(base, requests, clients, seed):
    rng_lock = threading.Lock()
    rng = random.Random(seed)
    next_index = [0]
    records = []

    def client():
        while True:
            with rng_lock:
                if next_index[0] >= requests or time.time() > START + DEADLINE_SECONDS:
                    return
                index = next_index[0]
                next_index[0] += 1
                local = random.Random(rng.random())
            try:
                record = one(base, index, local)
            except Exception as error:  # a dropped connection counts as a failure, not a crash
                record = {"index": index, "status": 0, "error": repr(error), "seconds": 0, "ids": set(), "dones": 0}
            with rng_lock:
                records.append(record)

    start = time.time()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records, time.time() - start


def check_round(base, records, requests, prompt_counts):
    problems = []
    if sorted(r["index"] for r in records) != list(range(requests)):
        problems.append(f"{len(records)} answers for {requests} requests")
    all_ids = [i for r in records for i in r["ids"]]
    if len(all_ids) != len(set(all_ids)):
        problems.append("a response id was used twice")
    for r in records:
        label = f"request {r['index']}"
        if r["status"] != 200:
            problems.append(f"{label}: status {r['status']} {r.get('error', '')[:200]}")
            continue
        if r["dones"] != 1 or len(r["ids"]) != 1:
            problems.append(f"{label}: {r['dones']} [DONE] and {len(r['ids'])} ids")
        usage = r["usage"]
        if not usage:
            problems.append(f"{label}: no usage")
            continue
        if usage["total_tokens"] != usage["prompt_tokens"] + usage["completion_tokens"]:
            problems.append(f"{label}: usage does not add up: {usage}")
        if usage["completion_tokens"] > r["max_tokens"] or (r["finish"] == "length") != (usage["completion_tokens"] == r["max_tokens"]):
            problems.append(f"{label}: {usage['completion_tokens']} tokens for max_tokens {r['max_tokens']}, finish {r['finish']}")
        if not r["chat"]:
            if r["prompt"] not in prompt_counts:
                _, _, text = request(base, "POST", "/tokenize", {"content": r["prompt"], "add_special": True})
                prompt_counts[r["prompt"]] = len(json.loads(text)["tokens"])
            if usage["prompt_tokens"] != prompt_counts[r["prompt"]]:
                problems.append(f"{label}: prompt_tokens {usage['prompt_tokens']}, /tokenize counts {prompt_counts[r['prompt']]}")
    return problems


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def load(args, base, pid):
    failures = 0
    rss = []
    prompt_counts = {}
    for round_index in range(args.repeat):
        records, seconds = run_round(base, args.requests, args.clients, seed=round_index)
        problems = check_round(base, records, args.requests, prompt_counts)
        status, _, _ = request(base, "GET", "/health")
        if status != 200:
            problems.append(f"/health answered {status} after the round")
        tokens = sum(r["usage"]["completion_tokens"] for r in records if r.get("usage"))
        latencies = [r["seconds"] for r in records if r["status"] == 200]
        if pid:
            rss.append(rss_mib(pid))
        print(f"round {round_index + 1}: {len(records)} answered in {seconds:.1f} s · {tokens} tokens generated, "
              f"{tokens / seconds:.1f} tok/s aggregate · latency p50 {percentile(latencies, 50):.2f} s, p99 {percentile(latencies, 99):.2f} s"
              + (f" · RSS {rss[-1]:.1f} MiB" if pid else "") + (f" · {len(problems)} problems" if problems else " · all checks hold"))
        for problem in problems[:20]:
            print("  " + problem)
        failures += len(problems)
    if len(rss) >= 2:
        growth = rss[-1] - rss[0]
        flat = growth <= args.rss_slack
        print(f"RSS across rounds: {', '.join(f'{v:.1f}' for v in rss)} MiB: {'flat' if flat else 'GROWING'} (+{growth:.1f} MiB, slack {args.rss_slack} MiB)")
        failures += 0 if flat else 1
    return failures


def bench(args, base):
    results = {}
    prompt = "Write a long story about a lighthouse keeper and the sea."
    for streams in args.streams:
        figures = []
        for _ in range(args.rounds):
            # Whole responses, whose `usage` every OpenAI-compatible server fills in.
            body = {"prompt": prompt, "max_tokens": args.tokens, "temperature": 0, "ignore_eos": True}
            counts = [0] * streams

            def client(i):
                status, _, text = request(base, "POST", "/v1/completions", body)
                assert status == 200, text
                counts[i] = json.loads(text)["usage"]["completion_tokens"]

            start = time.time()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(streams)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.time() - start
            figures.append(sum(counts) / seconds)
        results[streams] = statistics.median(figures)
        base_figure = results[args.streams[0]]
        print(f"{streams} concurrent stream(s) × {args.tokens} tokens: {results[streams]:.1f} tok/s aggregate "
              f"(median of {args.rounds}: {', '.join(f'{f:.1f}' for f in figures)}) · ×{results[streams] / base_figure:.2f} vs {args.streams[0]}")
    print(json.dumps({"aggregate_tokens_per_second": {str(k): round(v, 1) for k, v in results.items()}}))
    return 0


def main():
    global START
    START = time.time()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=["load", "bench"], default="load")
    parser.add_argument("--kiln-run", help="start this kiln-run serve (with --model) on a free port")
    parser.add_argument("--model")
    parser.add_argument("--url", help="use a running server instead (loopback)")
    parser.add_argument("--pid", type=int, help="the running server's pid, for its RSS")
    parser.add_argument("--parallel", type=int, default=16, help="--parallel of the server this script starts")
    parser.add_argument("--serve-arg", action="append", default=[], help="more arguments for kiln-run serve")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rss-slack", type=float, default=8.0, help="MiB the last round's RSS may exceed the first's")
    parser.add_argument("--streams", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.requests > 1000 or args.clients > 64 or args.repeat > 10:
        sys.exit("serve_load: keep it bounded: at most 1000 requests, 64 clients, 10 rounds")

    process = None
    if args.url:
        base, pid = args.url.rstrip("/"), args.pid
    elif args.kiln_run and args.model:
        process, base = start_server(args.kiln_run, args.model, args.parallel, args.serve_arg)
        pid = process.pid
    else:
        sys.exit("serve_load: give --kiln-run and --model, or --url")
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("serve_load: deadline passed"))
    signal.alarm(DEADLINE_SECONDS + 60)
    try:
        failures = load(args, base, pid) if args.mode == "load" else bench(args, base)
    finally:
        if process:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
            if code != 0:
                print(f"kiln-run serve exited {code} after SIGTERM")
                failures = 1
    print("serve_load: " + ("all checks hold" if failures == 0 else f"{failures} problems"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
