"""Training speed of lecture 08's MLP: the course's loop against a per-sample DataLoader and the FLOP bound.

Run alone: ``python benchmarks/training.py --repeat 3`` prints one JSON object.

The model is the seeds' stack, Linear(784, 256) → ReLU → Dropout → Linear(256, 128) →
ReLU → Linear(128, 10), trained for one epoch on MNIST-shaped random data
(60 000 × 784). The lower bound is the epoch's matrix-multiply FLOPs divided by
the matmul FLOP rate measured in the same run on the same shapes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch import nn

SIZES = (784, 256, 128, 10)


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
        nn.Linear(SIZES[2], SIZES[3]),
    )


def epoch_flops(n: int) -> float:
    """Matmul FLOPs of one epoch: forward (2·n·in·out per layer), weight gradients (the same),
    and input gradients for every layer but the first."""
    layers = list(zip(SIZES[:-1], SIZES[1:]))
    forward = sum(2 * n * a * b for a, b in layers)
    input_grads = sum(2 * n * a * b for a, b in layers[1:])
    return float(2 * forward + input_grads)


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def matmul_rate(batch: int, repeat: int = 20, device: str = "cpu") -> float:
    """FLOP/s of the epoch's own matmuls (forward and backward shapes), measured here."""
    flops, seconds = 0.0, 0.0
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        x, w, g = (torch.randn(*shape, device=device) for shape in ((batch, a), (b, a), (batch, b)))
        for _ in range(3):  # warm-up
            x @ w.T
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeat):
            x @ w.T  # forward
            g.T @ x  # weight gradient
            g @ w  # input gradient
        _sync(device)
        seconds += time.perf_counter() - start
        flops += repeat * 3 * 2 * batch * a * b
    return flops / seconds


def train_epoch_in_memory(model, X, y, batch_size: int, lr: float = 0.05) -> float:
    """The loop lecture 08 teaches: shuffle indices, slice in-memory tensors, zero_grad/backward/step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    _sync(X.device)
    start = time.perf_counter()
    order = torch.randperm(len(X), device=X.device)
    for first in range(0, len(X), batch_size):
        index = order[first:first + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(X[index]), y[index])
        loss.backward()
        optimizer.step()
    _sync(X.device)
    return time.perf_counter() - start


def train_epoch_dataloader(model, X, y, batch_size: int, lr: float = 0.05) -> float:
    """The same epoch through a per-sample ``TensorDataset`` + ``DataLoader`` (collating one sample at a time)."""
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch_size,
                                         shuffle=True, num_workers=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def run(n: int = 60_000, batch_size: int = 256, loader_batch: int = 64, repeat: int = 3,
        device: str = "cpu") -> dict:
    torch.manual_seed(0)
    X = torch.rand(n, SIZES[0], device=device)
    y = torch.randint(0, SIZES[-1], (n,), device=device)
    course, loader, rates = [], [], []
    for _ in range(repeat):
        rates.append(matmul_rate(batch_size, device=device))
        course.append(train_epoch_in_memory(make_model().to(device), X, y, batch_size))
        if device == "cpu":
            loader.append(train_epoch_dataloader(make_model(), X, y, loader_batch))
    flops = epoch_flops(n)
    rate = statistics.median(rates)
    result = {
        "samples": n, "batch_size": batch_size, "loader_batch_size": loader_batch, "repeat": repeat,
        "epoch_gflop": flops / 1e9, "matmul_gflops": rate / 1e9, "bound_s": flops / rate,
        "course_loop_s": statistics.median(course), "torch_threads": torch.get_num_threads(), "device": device,
    }
    if loader:
        result["dataloader_s"] = statistics.median(loader)
    result["course_over_bound"] = result["course_loop_s"] / result["bound_s"]
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(json.dumps(run(args.samples, repeat=args.repeat, device=args.device)))
