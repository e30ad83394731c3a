"""The few ``torch.nn`` modules that layer types build and torch lacks."""

from __future__ import annotations

import torch
from torch import nn


def activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    return nn.Identity()


class Residual(nn.Module):
    """``body(x) + shortcut(x)``, then an optional activation."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None, post: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.post = post

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.body(x) + self.shortcut(x))


class MapToSequence(nn.Module):
    """``(N, C, H, W) -> (N, W, C * H)``: a feature map read as a sequence over its width."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.permute(0, 3, 1, 2).reshape(n, w, c * h)


class Recurrent(nn.Module):
    """A GRU or LSTM that returns its output sequence or its final state."""

    def __init__(self, rnn: nn.GRU | nn.LSTM, return_sequences: bool) -> None:
        super().__init__()
        self.rnn = rnn
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = self.rnn(x)
        if self.return_sequences:
            return out
        h_n = state[0] if isinstance(state, tuple) else state
        # h_n is (directions, batch, units): concatenate the final state of each direction.
        return h_n.permute(1, 0, 2).reshape(x.shape[0], -1)
