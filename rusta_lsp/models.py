"""The one way Rusta loads a transformers model: from local files only, on the set device.

The embedder (`model.embedding`), the patch generator and the prose model (`model.generator`)
all load here, so the promise that nothing is downloaded at run time holds for each of them: a
model is a local folder or a Hugging Face id already in the local cache, never fetched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .device import pick_device

ENCODER = "encoder"  # hidden states (embeddings)
CAUSAL = "causal"  # text generation


def load_model(name_or_path: str, kind: str, device_setting: str = "auto") -> tuple[Any, Any, str]:
    """(tokenizer, model in eval mode on its device, device) for a local folder or a cached id.
    Raises when the model is not on this machine (a folder that does not exist, an id that is
    not in the cache) or cannot be read."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # also for what transformers loads on its own
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if kind not in (ENCODER, CAUSAL):
        raise ValueError(f"kind must be {ENCODER!r} or {CAUSAL!r}, not {kind!r}")
    hf_logging.disable_progress_bar()  # stderr belongs to the CLI's own progress bar
    if (os.sep in name_or_path or name_or_path.startswith(".")) and not Path(name_or_path).is_dir():
        raise FileNotFoundError(f"no model folder at {name_or_path}")
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)
    auto = AutoModel if kind == ENCODER else AutoModelForCausalLM
    model = auto.from_pretrained(name_or_path, local_files_only=True)
    device = pick_device(device_setting)
    model.to(device).eval()
    return tokenizer, model, device


def pad_token_id(tokenizer: Any) -> int:
    """The id to pad generated sequences with: the tokenizer's padding token, else its end of
    sequence, else 0. Compared with None, because 0 is a valid token id."""
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return token_id
    return 0
