"""A BERT encoder's forward pass written on torch's functional ops, read straight from
the model folder's config.json and model.safetensors.

The bulk path needs only the encoder's token states, and importing transformers for
them cost an ingest ~1.8 s of its ~35 (docs/figures.md). The arithmetic is BertModel's
(absolute positions, post-norm layers, erf GELU); query, key and value are one product,
and the products run on the real tokens only: a batch's padding (a fifth of an ingest's
tokens) costs them nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant.errors import ConfigError

# What this forward pass implements; any other config is refused rather than misread.
SUPPORTED = {"model_type": "bert", "position_embedding_type": "absolute", "hidden_act": "gelu"}
# The packed token count is rounded up to a multiple of this: oneDNN keeps a kernel per
# matrix shape, and one per exact count grew an ingest's memory by ~0.8 GB.
PACKED_ROWS_STEP = 64


def _config(model_dir: Path) -> dict:
    try:
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {model_dir / 'config.json'}: {exc}") from exc
    for key, value in SUPPORTED.items():
        if config.get(key, value) != value:
            raise ConfigError(f"bf16 bulk embedding needs a BERT model with {key}={value}")
    return config


class BertForward:
    """Token states (batch × tokens × hidden) of a BERT encoder, in `dtype`."""

    def __init__(self, model_dir: Path, torch, dtype) -> None:
        from safetensors.torch import load_file

        config = _config(model_dir)
        path = model_dir / "model.safetensors"
        if not path.exists():
            raise ConfigError(f"bf16 bulk embedding needs {path}")
        raw = load_file(str(path))
        weights = {k.removeprefix("bert."): v for k, v in raw.items()}

        def w(name: str):
            try:
                return weights[name].to(dtype).contiguous()
            except KeyError as exc:
                raise ConfigError(f"{path} has no weight {name}") from exc

        self._torch = torch
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.hidden = int(config["hidden_size"])
        e = "embeddings."
        self.word = w(e + "word_embeddings.weight")
        self.position = w(e + "position_embeddings.weight")
        self.type0 = w(e + "token_type_embeddings.weight")[0]
        self.norm = (w(e + "LayerNorm.weight"), w(e + "LayerNorm.bias"))
        self.layers = []
        for n in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{n}."
            s = p + "attention.self."
            qkv = torch.cat([w(s + x + ".weight") for x in ("query", "key", "value")])
            qkv_bias = torch.cat([w(s + x + ".bias") for x in ("query", "key", "value")])
            o = p + "attention.output."
            self.layers.append(
                (
                    (qkv, qkv_bias),
                    (w(o + "dense.weight"), w(o + "dense.bias")),
                    (w(o + "LayerNorm.weight"), w(o + "LayerNorm.bias")),
                    (w(p + "intermediate.dense.weight"), w(p + "intermediate.dense.bias")),
                    (w(p + "output.dense.weight"), w(p + "output.dense.bias")),
                    (w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias")),
                )
            )

    def __call__(self, ids, mask):
        """`ids`, `mask`: int64 tensors (batch × tokens); 0 in `mask` marks padding.

        Only attention needs the padded layout: every other step runs on the real tokens
        alone, packed, so a batch's padding costs its products nothing."""
        torch, F = self._torch, self._torch.nn.functional
        batch, width = ids.shape
        size, heads = self.hidden, self.heads
        real = mask.reshape(-1).nonzero().squeeze(1)  # packed row -> padded position
        extra = -len(real) % PACKED_ROWS_STEP
        if extra:  # repeats of one token: rows computed twice, written back identically
            real = torch.cat([real, real[:1].expand(extra)])
        positions = real % width
        x = F.embedding(ids.reshape(-1)[real], self.word) + self.position[positions] + self.type0
        x = F.layer_norm(x, (size,), *self.norm, self.eps)
        keep = mask.bool()[:, None, None, :]  # a padded key is attended by no token
        padded = x.new_zeros(batch * width, 3 * size)
        for qkv, out, norm1, up, down, norm2 in self.layers:
            padded[real] = F.linear(x, *qkv)
            q, k, v = (
                padded.view(batch, width, 3, heads, size // heads).permute(2, 0, 3, 1, 4).unbind(0)
            )
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            attended = attended.transpose(1, 2).reshape(batch * width, size)[real]
            x = F.layer_norm(x + F.linear(attended, *out), (size,), *norm1, self.eps)
            grown = F.linear(F.gelu(F.linear(x, *up)), *down)
            x = F.layer_norm(x + grown, (size,), *norm2, self.eps)
        states = x.new_zeros(batch * width, size)
        states[real] = x
        return states.view(batch, width, size)
