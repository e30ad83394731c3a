"""RENA's policy network: a network embedding and an autoregressive controller, in torch.

* **Network embedding.** Each baseline layer is a bag of tokens (its type and each
  hyperparameter's value). Token embeddings are looked up and summed into a layer vector,
  and a bidirectional LSTM runs across the layers, so each layer's encoding sees the whole
  network.
* **Controller.** An LSTM takes one decision per step. Its input is the encoding of
  the layer the decision is about, the embedding of the kind of decision, and the
  embedding of the previous choice, so each decision is conditioned on the layer and on
  all earlier decisions. A query vector scores each choice by a dot product with the
  choice's embedding; a choice that points at a layer (an insert position) adds that
  layer's encoding. Any number of choices, and choices first seen late, need no new
  output head.

  When the policy learns, every choice of an episode is known, so each step's input is
  known before the LSTM runs (teacher forcing): :meth:`RenaPolicy.evaluate` runs the LSTM
  once over all steps of all episodes, instead of one call per step.

Tokens are hashed into a fixed embedding table, so every process maps the same token to
the same row and the table never grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import functools
import math
import zlib

import numpy as np
import torch
from torch import nn

from optuna_rena._space import DecisionContext


@dataclass(frozen=True)
class Step:
    """A decision taken: its context and the index of the choice."""

    context: DecisionContext
    chosen: int


@functools.lru_cache(maxsize=65536)
def _token_row(token: str, vocabulary: int) -> int:
    return zlib.crc32(token.encode()) % vocabulary


State = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""The controller's (h, c, previous choice embedding), one row per episode."""


def sample_indices(probs: np.ndarray, rng: np.random.RandomState) -> list[int]:
    """One index per row of ``probs``, by inverse CDF: one uniform draw per row."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random_sample(len(probs)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), probs.shape[1] - 1).tolist()


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
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.tokens = nn.Embedding(vocabulary, embedding_dim)
        nn.init.normal_(self.tokens.weight, std=0.1)
        self.encoder = nn.LSTM(embedding_dim, hidden_size, batch_first=True,
                               bidirectional=True)
        self.layer_proj = nn.Linear(2 * hidden_size, embedding_dim)
        self.controller = nn.LSTM(3 * embedding_dim, hidden_size, batch_first=True)
        self.query = nn.Linear(hidden_size, embedding_dim)
        self._lookup_cache: dict[tuple[tuple[DecisionContext, ...], int],
                                 tuple[torch.Tensor, ...]] = {}

    def _ids(self, tokens: Sequence[str]) -> torch.Tensor:
        return torch.tensor([_token_row(t, self.vocabulary) for t in tokens], dtype=torch.long)

    def encode(self, layer_tokens: Sequence[Sequence[str]]) -> torch.Tensor:
        """Per layer, its encoding, ``(layers, embedding_dim)``; row ``layers`` (one past
        the end) is zeros, for decisions about no layer."""
        zeros = torch.zeros(1, self.embedding_dim)
        if not layer_tokens:
            return zeros
        vectors = torch.stack([self.tokens(self._ids(tokens)).sum(0) for tokens in layer_tokens])
        encoded, _ = self.encoder(vectors.unsqueeze(0))
        return torch.cat([self.layer_proj(encoded.squeeze(0)), zeros])

    def initial_state(self, batch: int = 1) -> State:
        h = torch.zeros(batch, self.hidden_size)
        return h, h.clone(), torch.zeros(batch, self.embedding_dim)

    def scores(self, state: State, layers: torch.Tensor,
               contexts: Sequence[DecisionContext]) -> tuple[torch.Tensor, torch.Tensor, State]:
        """One decision for each row of ``state``.

        Returns:
            The logits ``(rows, max choices)`` (``-inf`` past each row's choices), the
            choice embeddings ``(rows, max choices, dim)``, and the state after the step,
            whose previous-choice part :meth:`advance` fills in.
        """
        h, c, previous = state
        none = len(layers) - 1  # the zero row: no layer
        # Rows in lockstep mostly share a decision, so each distinct one is looked up once.
        distinct: dict[DecisionContext, int] = {}
        row_of = torch.tensor([distinct.setdefault(x, len(distinct)) for x in contexts])
        ids, pointed, mask, layer_rows, key_ids = self._lookups(tuple(distinct), none)
        keys = self.tokens(key_ids)[row_of]
        x = torch.cat([layers[layer_rows][row_of], keys, previous], dim=1)
        _, (h, c) = self.controller(x.unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        h, c = h.squeeze(0), c.squeeze(0)
        choices = (self.tokens(ids) + layers[pointed])[row_of]
        logits = (choices @ self.query(h).unsqueeze(2)).squeeze(2)
        return logits.masked_fill(~mask[row_of], float("-inf")), choices, (h, c, previous)

    def _lookups(self, distinct: tuple[DecisionContext, ...], none: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                            torch.Tensor]:
        """Index tensors of the decisions: the choices' token rows, the layer each choice
        points at, the mask of real choices, each decision's layer and key row. Episodes
        meet the same decisions again and again, so each tuple is built once."""
        cache_key = (distinct, none)
        cached = self._lookup_cache.get(cache_key)
        if cached is not None:
            return cached
        width = max(len(x.choice_tokens) for x in distinct)
        ids = torch.zeros(len(distinct), width, dtype=torch.long)
        pointed = torch.full((len(distinct), width), none, dtype=torch.long)
        mask = torch.zeros(len(distinct), width, dtype=torch.bool)
        layer_rows, key_ids = [], []
        for u, x in enumerate(distinct):
            n = len(x.choice_tokens)
            ids[u, :n] = self._ids(x.choice_tokens)
            pointed[u, :n] = torch.tensor([none if j is None or j >= none else j
                                           for j in x.choice_layers])
            mask[u, :n] = True
            layer_rows.append(none if x.layer is None or x.layer >= none else x.layer)
            key_ids.append(_token_row(x.key, self.vocabulary))
        if len(self._lookup_cache) >= 4096:
            self._lookup_cache.clear()
        cached = (ids, pointed, mask, torch.tensor(layer_rows), torch.tensor(key_ids))
        self._lookup_cache[cache_key] = cached
        return cached

    @staticmethod
    def advance(state: State, choices: torch.Tensor, chosen: torch.Tensor) -> State:
        """The state once each row's choice is known: its embedding feeds the next step."""
        h, c, _ = state
        return h, c, choices[torch.arange(len(chosen)), chosen]

    @torch.no_grad()
    def act(self, state: State, layers: torch.Tensor, contexts: Sequence[DecisionContext],
            rng: np.random.RandomState, temperature: float = 1.0,
            chosen: Sequence[int] | None = None) -> tuple[State, list[int]]:
        """One decision for each row of ``state``, without gradients: sampled from the
        policy (flattened by a ``temperature`` above 1, uniform at ``math.inf``), or the
        given ``chosen`` indices.

        Returns:
            The state after the decisions and the index chosen in each row.
        """
        logits, choices, state = self.scores(state, layers, contexts)
        if chosen is None:
            if math.isinf(temperature):  # uniform over each row's choices
                probs = torch.isfinite(logits).double().numpy()
            else:
                probs = torch.softmax(logits.double() / temperature, dim=1).numpy()
            chosen = sample_indices(probs, rng)
        chosen = list(chosen)
        return self.advance(state, choices, torch.tensor(chosen)), chosen

    def evaluate(self, layer_tokens: Sequence[Sequence[str]],
                 episodes: Sequence[Sequence[Step]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per episode, the summed log-probability of its choices and the summed entropy of
        its decisions, with gradients.

        Teacher forcing: a step's input (its layer, its kind, the previous choice's
        embedding) does not depend on the LSTM's state, so the inputs of every step of
        every episode are built at once and the LSTM runs once over the padded batch.
        Padding only follows an episode's last step, so it changes none of its outputs.
        """
        batch = len(episodes)
        if not any(episodes):
            return torch.zeros(batch), torch.zeros(batch)
        layers = self.encode(layer_tokens)
        none = len(layers) - 1
        flat = [(b, t, step) for b, e in enumerate(episodes) for t, step in enumerate(e)]
        distinct: dict[DecisionContext, int] = {}
        row_of = torch.tensor([distinct.setdefault(s.context, len(distinct))
                               for _, _, s in flat])
        ids, pointed, mask, layer_rows, key_ids = self._lookups(tuple(distinct), none)
        choices = (self.tokens(ids) + layers[pointed])[row_of]  # (steps, width, dim)
        chosen = torch.tensor([s.chosen for _, _, s in flat])
        everywhere = torch.arange(len(flat))
        embedded = choices[everywhere, chosen]
        episode = torch.tensor([b for b, _, _ in flat])
        first = torch.tensor([t == 0 for _, t, _ in flat])
        # Each step's previous choice is the step before it in the same episode.
        previous = torch.cat([torch.zeros(1, self.embedding_dim), embedded[:-1]])
        previous = previous.masked_fill(first.unsqueeze(1), 0.0)
        x_flat = torch.cat([layers[layer_rows][row_of], self.tokens(key_ids)[row_of],
                            previous], dim=1)
        where = (episode, torch.tensor([t for _, t, _ in flat]))
        longest = max(len(e) for e in episodes)
        x = torch.zeros(batch, longest, x_flat.shape[1]).index_put(where, x_flat)
        h, _ = self.controller(x)
        logits = (choices @ self.query(h[where]).unsqueeze(2)).squeeze(2)
        log_p = torch.log_softmax(logits.masked_fill(~mask[row_of], float("-inf")), dim=1)
        finite = log_p.masked_fill(torch.isinf(log_p), 0.0)
        step_entropy = -(log_p.exp() * finite).sum(1)
        log_prob = torch.zeros(batch).index_add(0, episode, log_p[everywhere, chosen])
        entropy = torch.zeros(batch).index_add(0, episode, step_entropy)
        return log_prob, entropy
