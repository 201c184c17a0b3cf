"""Which torch device models run on. Shared by the embedder and the heartbeat's trainer."""

from __future__ import annotations


def pick_device(setting: str = "auto") -> str:
    """"auto" picks cuda, then mps, then cpu; an explicit device that is absent falls back to cpu."""
    import torch  # imported here: callers that never touch a model should not pay for torch

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if setting == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if setting.startswith("cuda"):
        return setting if cuda else "cpu"
    if setting == "mps":
        return "mps" if mps else "cpu"
    return "cpu"
