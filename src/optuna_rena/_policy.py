"""RENA's policy network: a network embedding and an autoregressive controller, in torch.

* **Network embedding.** Each baseline layer is a bag of tokens (its type and each
  hyperparameter's value). Token embeddings are looked up and summed into a layer vector,
  and a bidirectional LSTM runs across the layers, so each layer's encoding sees the whole
  network.
* **Controller.** An LSTM cell takes one decision per step. Its input is the encoding of
  the layer the decision is about, the embedding of the kind of decision, and the
  embedding of the previous choice, so each decision is conditioned on the layer and on
  all earlier decisions. A query vector scores each choice by a dot product with the
  choice's embedding; a choice that points at a layer (an insert position) adds that
  layer's encoding. Any number of choices, and choices first seen late, need no new
  output head.

Tokens are hashed into a fixed embedding table, so every process maps the same token to
the same row and the table never grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import zlib

import torch
from torch import nn


@dataclass(frozen=True)
class Step:
    """One decision: its context and the index of the choice taken."""

    layer: int | None
    key: str
    choice_tokens: tuple[str, ...]
    choice_layers: tuple[int | None, ...]
    chosen: int


class RenaPolicy(nn.Module):
    """The controller: embeds a network and scores each decision's choices.

    Args:
        embedding_dim: Size of token, layer and choice embeddings.
        hidden_size: Size of the encoder's (per direction) and the controller's state.
        vocabulary: Rows of the hashed token table.
    """

    def __init__(self, embedding_dim: int = 32, hidden_size: int = 64,
                 vocabulary: int = 4096) -> None:
        super().__init__()
        self.vocabulary = vocabulary
        self.tokens = nn.Embedding(vocabulary, embedding_dim)
        self.encoder = nn.LSTM(embedding_dim, hidden_size, batch_first=True,
                               bidirectional=True)
        self.layer_proj = nn.Linear(2 * hidden_size, embedding_dim)
        self.controller = nn.LSTMCell(3 * embedding_dim, hidden_size)
        self.query = nn.Linear(hidden_size, embedding_dim)
        nn.init.normal_(self.tokens.weight, std=0.1)
        self.hidden_size = hidden_size
        self.embedding_dim = embedding_dim

    def token_ids(self, tokens: Sequence[str]) -> torch.Tensor:
        return torch.tensor([zlib.crc32(t.encode()) % self.vocabulary for t in tokens],
                            dtype=torch.long)

    def embed(self, tokens: Sequence[str]) -> torch.Tensor:
        return self.tokens(self.token_ids(tokens))

    def encode(self, layer_tokens: Sequence[Sequence[str]]) -> torch.Tensor:
        """Per layer, its encoding projected to ``embedding_dim``: ``(layers, dim)``."""
        if not layer_tokens:
            return torch.zeros(0, self.embedding_dim)
        vectors = torch.stack([self.embed(tokens).sum(0) for tokens in layer_tokens])
        encoded, _ = self.encoder(vectors.unsqueeze(0))
        return self.layer_proj(encoded.squeeze(0))

    def initial_state(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(h, c, previous choice embedding) before the first decision."""
        zeros = torch.zeros(1, self.hidden_size)
        return zeros, zeros.clone(), torch.zeros(1, self.embedding_dim)

    def step(
        self,
        state: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        layers: torch.Tensor,
        layer: int | None,
        key: str,
        choice_tokens: Sequence[str],
        choice_layers: Sequence[int | None],
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The logits of one decision's choices and the state after it (before the
        choice is known: call :meth:`advance` with it)."""
        h, c, previous = state
        context = layers[layer:layer + 1] if layer is not None and layer < len(layers) else (
            torch.zeros(1, self.embedding_dim))
        x = torch.cat([context, self.embed([key]), previous], dim=1)
        h, c = self.controller(x, (h, c))
        choices = self.embed(choice_tokens)
        pointed = [j for j, target in enumerate(choice_layers)
                   if target is not None and target < len(layers)]
        if pointed:
            rows = torch.tensor([choice_layers[j] for j in pointed])
            extra = torch.zeros_like(choices)
            extra[torch.tensor(pointed)] = layers[rows]
            choices = choices + extra
        logits = choices @ self.query(h).squeeze(0)
        return logits, (h, c, choices)

    @staticmethod
    def advance(state: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                chosen: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h, c, choices = state
        return h, c, choices[chosen:chosen + 1]

    def evaluate(self, layer_tokens: Sequence[Sequence[str]],
                 steps: Sequence[Step]) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum of log-probabilities of the choices taken, and of the entropies, over an
        episode (teacher forcing), with gradients."""
        layers = self.encode(layer_tokens)
        state = self.initial_state()
        log_prob = torch.zeros(())
        entropy = torch.zeros(())
        for s in steps:
            logits, state = self.step(state, layers, s.layer, s.key, s.choice_tokens,
                                      s.choice_layers)
            log_p = torch.log_softmax(logits, dim=0)
            log_prob = log_prob + log_p[s.chosen]
            entropy = entropy - (log_p.exp() * log_p).sum()
            state = self.advance(state, s.chosen)
        return log_prob, entropy
