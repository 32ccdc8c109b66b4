"""Checks of PyTorch code that test cells use: a model wrapper that records how it was called.

Imported only by notebooks that use PyTorch (``import course_utils`` does not import torch).

Example:
    >>> import torch
    >>> model = ForwardRecorder(torch.nn.Linear(2, 1))
    >>> _ = model(torch.zeros(3, 2))
    >>> model.calls[0]["training"], model.calls[0]["grad_enabled"], tuple(model.calls[0]["batch"].shape)
    (True, True, (3, 2))
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ForwardRecorder"]


class ForwardRecorder(nn.Module):
    """Wraps a model and records every forward call: the mode (``training``), ``grad_enabled`` and the batch.

    ``calls`` is a list of plain dicts, so a test can ask what a training or
    evaluation loop did to the model: which batches it saw, in which order, in
    train or eval mode, with or without gradients. ``inner`` is the wrapped model.
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        if not isinstance(inner, nn.Module):
            raise TypeError(f"ForwardRecorder wraps a torch.nn.Module, got {type(inner).__name__}")
        self.inner = inner
        self.calls: list[dict] = []

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls.append({"training": self.training, "grad_enabled": torch.is_grad_enabled(),
                           "batch": batch.detach().clone()})
        return self.inner(batch)
