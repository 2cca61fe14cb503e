#!/usr/bin/env python3
"""Drives a running `kiln-run serve` with the real `openai` Python package, as a user's client
would, and checks what comes back:

- models, chat, streaming chat, completions and streaming completions all work through the SDK;
- the greedy streamed text equals `kiln-run`'s (generate for completions, chat for chat), and
  the streamed pieces concatenate to the whole reply;
- `stop`, `seed` and `max_tokens` do what they say; bad requests raise the SDK's errors;
- every JSON response, and every streamed chunk, validates against docs/openapi.yaml.

    Tools/serve_openai_check.py --base-url http://127.0.0.1:8080 --kiln-run .build/release/kiln-run --model M.gguf

Exits 0 when everything holds; prints one line per check. Loopback only; a few dozen requests.
"""
import argparse
import json
import os
import subprocess
import sys
import urllib.request

import jsonschema
import openai
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = []


def check(condition, label, detail=""):
    print(("ok   " if condition else "FAIL ") + label + ("" if condition else f": {detail}"))
    if not condition:
        failures.append(label)


def schema_validator(name):
    spec = yaml.safe_load(open(os.path.join(ROOT, "docs", "openapi.yaml")))
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def conforms(name, value, label):
    errors = list(schema_validator(name).iter_errors(value))
    check(not errors, f"{label} matches openapi.yaml {name}", "; ".join(e.message for e in errors[:3]))


def raw(base_url, path, body=None):
    """The raw JSON of a response (the SDK would hide fields the schema must cover)."""
    request = urllib.request.Request(base_url + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read().decode()


def kiln_run(arguments, stdin=None):
    result = subprocess.run(arguments, input=stdin, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout[:-1]  # kiln-run ends its text with a newline


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--kiln-run", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key", default="unused")
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url + "/v1", api_key=args.api_key, max_retries=0, timeout=300)

    models = client.models.list()
    name = models.data[0].id
    check(len(models.data) == 1 and name, "models.list gives the served model", models)
    conforms("ModelList", json.loads(raw(args.base_url, "/v1/models")), "GET /v1/models")
    conforms("Model", json.loads(raw(args.base_url, f"/v1/models/{name}")), "GET /v1/models/{id}")
    conforms("Health", json.loads(raw(args.base_url, "/health")), "GET /health")

    # Completions: greedy text equals `kiln-run generate`, whole and streamed; so do the token
    # count and the stop (whether the model ends the text within `tokens` is the numerics' call).
    prompt, tokens = "The capital of France is", 24
    done = json.loads(kiln_run([args.kiln_run, args.model, "-p", prompt, "-n", str(tokens), "--temp", "0", "--json"]).split("\n")[-1])
    expected, generated = done["text"], len(done["ids"])
    finish = "stop" if done["stop"] in ("endOfSequence", "stopString") else "length"
    whole = client.completions.create(model=name, prompt=prompt, max_tokens=tokens, temperature=0)
    check(whole.choices[0].text == expected, "completions: greedy text equals kiln-run generate", (whole.choices[0].text, expected))
    check(whole.usage.completion_tokens == generated and whole.choices[0].finish_reason == finish, "completions: usage and finish_reason",
          (whole.usage, whole.choices[0].finish_reason, generated, finish))
    pieces = []
    for chunk in client.completions.create(model=name, prompt=prompt, max_tokens=tokens, temperature=0, stream=True):
        pieces += [choice.text for choice in chunk.choices]
    check("".join(pieces) == expected, "completions: streamed pieces concatenate to the same text", pieces)
    body = {"model": name, "prompt": prompt, "max_tokens": 8, "temperature": 0}
    conforms("Completion", json.loads(raw(args.base_url, "/v1/completions", body)), "POST /v1/completions")

    # Chat: greedy streamed reply equals `kiln-run chat`.
    message, tokens = "What is the capital of France?", 32
    expected = kiln_run([args.kiln_run, "chat", args.model, "--temp", "0", "-n", str(tokens)], stdin=message + "\n")
    messages = [{"role": "user", "content": message}]
    pieces, finish, usage = [], None, None
    for chunk in client.chat.completions.create(model=name, messages=messages, max_tokens=tokens, temperature=0, stream=True,
                                                stream_options={"include_usage": True}):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    streamed = "".join(pieces)
    check(streamed == expected, "chat: greedy streamed reply equals kiln-run chat", (streamed, expected))
    whole = client.chat.completions.create(model=name, messages=messages, max_tokens=tokens, temperature=0)
    check(whole.choices[0].message.content == streamed, "chat: whole reply equals the streamed one", whole.choices[0].message.content)
    check(whole.choices[0].finish_reason == finish and usage is not None and usage.completion_tokens == whole.usage.completion_tokens,
          "chat: finish_reason and usage agree between whole and streamed", (finish, usage, whole.usage))
    body = {"model": name, "messages": messages, "max_tokens": 8, "temperature": 0}
    conforms("ChatCompletion", json.loads(raw(args.base_url, "/v1/chat/completions", body)), "POST /v1/chat/completions")
    events = raw(args.base_url, "/v1/chat/completions", dict(body, stream=True, stream_options={"include_usage": True}))
    data = [line[6:] for line in events.split("\n") if line.startswith("data: ")]
    check(data[-1] == "[DONE]" and data.count("[DONE]") == 1, "chat stream ends with one data: [DONE]", data[-2:])
    for index, item in enumerate(data[:-1]):
        conforms("ChatCompletionChunk", json.loads(item), f"chat stream chunk {index}")
    events = raw(args.base_url, "/v1/completions", {"prompt": prompt, "max_tokens": 4, "stream": True})
    for index, item in enumerate(line[6:] for line in events.split("\n") if line.startswith("data: ") and line != "data: [DONE]"):
        conforms("Completion", json.loads(item), f"completion stream chunk {index}")

    # Options: stop cuts before the stop text; a seed repeats a sampled reply.
    stopped = client.completions.create(model=name, prompt="1, 2, 3, 4,", max_tokens=24, temperature=0, stop=[" 7"])
    check(" 7" not in stopped.choices[0].text and stopped.choices[0].finish_reason == "stop", "stop ends the text before the stop string",
          stopped.choices[0].text)
    sampled = [client.chat.completions.create(model=name, messages=messages, max_tokens=16, temperature=0.9, seed=1234).choices[0].message.content
               for _ in range(2)]
    check(sampled[0] == sampled[1], "the same seed gives the same sampled reply", sampled)

    # Errors surface as the SDK's exceptions, with the field named.
    try:
        client.chat.completions.create(model=name, messages=messages, n=2)
        check(False, "n=2 is refused")
    except openai.BadRequestError as error:
        check(error.status_code == 400 and error.body.get("param") == "n", "n=2 is a 400 naming 'n'", error.body)
        conforms("Error", error.response.json(), "a 400's body")
    try:
        client.completions.create(model=name, prompt="word " * 5000, max_tokens=4)
        check(False, "an oversized prompt is refused")
    except openai.BadRequestError as error:
        check(error.body.get("code") == "context_length_exceeded", "an oversized prompt is a 400 context_length_exceeded", error.body)

    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
