"""The bulk encoder's own BERT forward pass computes what transformers' BertModel does,
from the model folder alone, and refuses models it does not implement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings.bert_torch import BertForward
from assistant.errors import ConfigError
from assistant.settings import Settings

torch = pytest.importorskip("torch")


def _batch(model_dir):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    texts = ["Fastify decorates the request.", "Use a hook. " * 30, "x"]
    enc = tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in enc) + 5  # every row padded, as bulk batches are
    ids = np.zeros((len(texts), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, e in enumerate(enc):
        ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def test_token_states_match_transformers_bert_model() -> None:
    transformers = pytest.importorskip("transformers")
    model_dir = Path(Settings().embedding_model)
    ids, mask = _batch(model_dir)
    reference = transformers.AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    with torch.inference_mode():
        want = reference.eval()(input_ids=ids, attention_mask=mask).last_hidden_state
        got = BertForward(model_dir, torch, torch.float32)(ids, mask)
    real = mask.bool()  # padded positions are never pooled
    assert torch.allclose(got[real], want[real], atol=1e-4), (got - want)[real].abs().max()


def test_a_model_it_does_not_implement_is_refused(tmp_path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(Path(Settings().embedding_model), model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    (model_dir / "config.json").write_text(json.dumps(config | {"hidden_act": "relu"}))
    with pytest.raises(ConfigError, match="hidden_act=gelu"):
        BertForward(model_dir, torch, torch.float32)
    (model_dir / "config.json").write_text(json.dumps(config))
    (model_dir / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"model\.safetensors"):
        BertForward(model_dir, torch, torch.float32)
