"""The training loop for child networks: train, validate, report each epoch, prune."""

from __future__ import annotations

from collections.abc import Callable

import optuna
import torch
from torch import nn

from optuna_rena._device import default_device
from optuna_rena.datasets import Dataset


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """CIFAR's customary augmentation on a batch: a random crop of the image padded by
    ``padding`` (reflect) and a random horizontal flip."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (padding,) * 4, mode="reflect")
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    out[flip] = out[flip].flip(-1)
    return out


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
             batch_size: int = 512) -> float:
    """Accuracy of ``model`` on ``(x, y)``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(x[i:i + batch_size].to(device))
            correct += int((logits.argmax(1).cpu() == y[i:i + batch_size]).sum())
    return correct / len(x)


def fit(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int,
    trial: optuna.Trial | None = None,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-4,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    device: torch.device | str | None = None,
    seed: int = 0,
) -> float:
    """Train ``model`` with AdamW and a cosine schedule; validate after every epoch.

    With a ``trial``, the validation accuracy is reported each epoch (step = epoch) and
    the trial is pruned when its pruner says so, so any Optuna pruner works.

    Returns:
        The validation accuracy after the last epoch, in [0, 1].

    Raises:
        optuna.TrialPruned: The pruner stopped the trial.
    """
    dev = torch.device(device) if device is not None else default_device()
    model = model.to(dev)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate,
                                  weight_decay=weight_decay)
    steps_per_epoch = max(1, -(-len(data.x_train) // batch_size))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    accuracy = 0.0
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(data.x_train), generator=generator)
        for i in range(0, len(order), batch_size):
            index = order[i:i + batch_size]
            if len(index) < 2:
                continue  # batch norm needs two samples
            x = data.x_train[index]
            if augment is not None:
                x = augment(x, generator)
            optimizer.zero_grad()
            loss = loss_fn(model(x.to(dev)), data.y_train[index].to(dev))
            loss.backward()
            optimizer.step()
            schedule.step()
        accuracy = evaluate(model, data.x_val, data.y_val, dev)
        if trial is not None:
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch} at accuracy {accuracy:.4f}")
    return accuracy
