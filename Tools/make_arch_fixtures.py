#!/usr/bin/env python3
"""Tiny random-weight models of the architectures beyond plain Llama, and their logits from
Hugging Face `transformers`, for Kiln's runtime tests (issue 17).

Writes (relative to the repository root):

    Fixtures/models/tiny-qwen3/          Qwen3: per-head q/k RMSNorm, head_dim 32 != 64/4, untied head
    Fixtures/models/tiny-gemma3/         Gemma 3 (Gemma3ForCausalLM): (1 + w) norms, pre/post norms,
                                         q/k norms, GeGLU, √d embedding, 3 sliding-window layers
                                         (window 5, RoPE base 10000) and 1 global (base 50000),
                                         query_pre_attn_scalar 24, final logit soft-capping 20
    Fixtures/models/tiny-llama3-rope/    Llama with rope_type llama3 (factor 8, low 1, high 4,
                                         original_max_position_embeddings 64)
    Fixtures/models/tiny-mistral-swa/    Mistral with sliding_window 6 on every layer and YaRN
                                         (factor 4, original 32)
    Fixtures/expected/tiny_{qwen3,gemma3,llama3_rope,mistral_swa}_logits.json

Every sequence has 33 tokens at its longest, several times the sliding windows. Each model is
checked to be sensitive to the features it tests (turning one off moves the logits by more
than 1e-2), and the saved files are loaded back and must give bit-identical logits; the
KV-cache decoding of transformers itself must agree with its full pass to 1e-4.

Weights, seeds, ids and float formatting as Tools/make_reference_logits.py (whose helpers this
imports): float32, eager attention, one thread, deterministic algorithms.
Needs Tools/requirements-fixtures.txt (transformers >= 5.0: Gemma 3 and Qwen3 are there).

Usage:
    python3 Tools/make_arch_fixtures.py           # (re)write everything
    python3 Tools/make_arch_fixtures.py --check   # exit 1 if anything would change
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from transformers import (  # noqa: E402
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

from make_reference_logits import (  # noqa: E402
    EXPECTED, VOCAB, Writer, build, dump_json, logits_doc, logits_of, max_diff, save_checked, seeded_tiny,
)

COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=176, num_attention_heads=4, num_key_value_heads=2,
              max_position_embeddings=128, tie_word_embeddings=False)


def qwen3_config() -> Qwen3Config:
    return Qwen3Config(**COMMON, num_hidden_layers=2, head_dim=32, rms_norm_eps=1e-6,
                       rope_parameters={"rope_type": "default", "rope_theta": 50000.0})


def gemma3_config() -> Gemma3TextConfig:
    return Gemma3TextConfig(
        **dict(COMMON, tie_word_embeddings=True), num_hidden_layers=4, head_dim=32, rms_norm_eps=1e-6,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "sliding_attention"],
        sliding_window=5, query_pre_attn_scalar=24, final_logit_softcapping=20.0,
        hidden_activation="gelu_pytorch_tanh", bos_token_id=2, eos_token_id=1, pad_token_id=0,
        rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 50000.0},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}})


def llama3_rope_config() -> LlamaConfig:
    return LlamaConfig(**COMMON, num_hidden_layers=2, rms_norm_eps=1e-5,
                       rope_parameters={"rope_type": "llama3", "rope_theta": 50000.0, "factor": 8.0,
                                        "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 64})


def mistral_swa_config() -> MistralConfig:
    return MistralConfig(**COMMON, num_hidden_layers=2, rms_norm_eps=1e-5, sliding_window=6,
                         rope_parameters={"rope_type": "yarn", "rope_theta": 50000.0, "factor": 4.0,
                                          "original_max_position_embeddings": 32})


def variant(config, **changes):
    c = copy.deepcopy(config)
    for key, value in changes.items():
        setattr(c, key, value)
    return c


# Each: what is switched off, as a config change; the logits must move by > 1e-2.
def sensitivity(name: str, cfg) -> dict[str, object]:
    if name == "tiny-qwen3":
        return {}  # q/k norms are weights: the every-tensor check below covers them
    if name == "tiny-gemma3":
        return {
            "no_sliding_window": variant(cfg, sliding_window=4096),
            "query_scale_head_dim": variant(cfg, query_pre_attn_scalar=32),
            "no_softcap": variant(cfg, final_logit_softcapping=None),
            "one_rope_base": variant(cfg, rope_parameters={
                "full_attention": {"rope_type": "default", "rope_theta": 50000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 50000.0}}),
            "all_sliding": variant(cfg, layer_types=["sliding_attention"] * 4),
        }
    if name == "tiny-llama3-rope":
        return {"unscaled_rope": variant(cfg, rope_parameters={"rope_type": "default", "rope_theta": 50000.0})}
    if name == "tiny-mistral-swa":
        return {"no_sliding_window": variant(cfg, sliding_window=None),
                "unscaled_rope": variant(cfg, rope_parameters={"rope_type": "default", "rope_theta": 50000.0})}
    raise KeyError(name)


# name, class, config, seed offset (after make_reference_logits.py's 1 … 4), logits file
TINY = [
    ("tiny-qwen3", Qwen3ForCausalLM, qwen3_config, 5, "tiny_qwen3_logits.json"),
    ("tiny-gemma3", Gemma3ForCausalLM, gemma3_config, 6, "tiny_gemma3_logits.json"),
    ("tiny-llama3-rope", LlamaForCausalLM, llama3_rope_config, 7, "tiny_llama3_rope_logits.json"),
    ("tiny-mistral-swa", MistralForCausalLM, mistral_swa_config, 8, "tiny_mistral_swa_logits.json"),
]


@torch.no_grad()
def checks(name: str, cls, model, seqs, ref) -> dict[str, float]:
    out: dict[str, float] = {}

    def moved(m) -> float:
        m.eval()
        return max(max_diff(logits_of(m, s), r) for s, r in zip(seqs, ref))

    for label, cfg in sensitivity(name, model.config).items():
        m = build(cls, cfg, "eager")
        m.load_state_dict(model.state_dict())
        out[label] = moved(m)
        assert out[label] > 1e-2, f"{name}: {label} barely matters ({out[label]})"
    # Every tensor matters: perturb it by half its spread (halving would not do: q/k norms undo a
    # scaled q/k projection).
    worst = float("inf")
    gen = torch.Generator().manual_seed(1)
    for pname, _ in model.named_parameters():
        m = copy.deepcopy(model)
        p = dict(m.named_parameters())[pname]
        p.add_(torch.randn(p.shape, generator=gen) * float(p.std()) * 0.5)
        worst = min(worst, moved(m))
        assert worst > 1e-2, f"{name}: {pname} barely matters"
    out["every_tensor"] = worst
    # transformers' own KV cache (one token at a time) against its full pass.
    s, r = seqs[1], ref[1]
    step = model(torch.tensor([s[:1]]), use_cache=True)
    rows, cache = [step.logits[0, -1]], step.past_key_values
    for t in s[1:]:
        step = model(torch.tensor([[t]]), past_key_values=cache, use_cache=True)
        cache = step.past_key_values
        rows.append(step.logits[0, -1])
    out["kv_cache_vs_full"] = max_diff(torch.stack(rows), r)
    assert out["kv_cache_vs_full"] < 1e-4, f"{name}: transformers' cache differs by {out['kv_cache_vs_full']}"
    return out


@torch.no_grad()
def make(w: Writer, name: str, cls, config_fn, offset: int, logits_file: str) -> None:
    model, seed, seqs, ref = seeded_tiny(cls, config_fn, offset)
    with tempfile.TemporaryDirectory() as tmp:
        save_checked(w, name, model, seqs, ref, Path(tmp))
    found = checks(name, cls, model, seqs, ref)
    doc = logits_doc("Tools/make_arch_fixtures.py", name, model, seed, seqs, ref, checks=found)
    w.write(EXPECTED / logits_file, dump_json(doc))
    scale = max(float(r.abs().max()) for r in ref)
    print(f"{name}: |logit| <= {scale:.2f}; " + ", ".join(f"{k} {v:.3g}" for k, v in found.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any output would change")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    w = Writer(args.check)
    for spec in TINY:
        make(w, *spec)
    for rel, n in sorted(w.sizes.items()):
        print(f"  {n:>9,}  {rel}")
    if args.check:
        print("up to date" if not w.changed else "would change: " + ", ".join(w.changed))
        return 1 if w.changed else 0
    print("wrote: " + (", ".join(w.changed) if w.changed else "nothing (all up to date)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
