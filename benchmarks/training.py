"""Training speed of lecture 08's MLP: the course's loop against a per-sample DataLoader and the FLOP bound.

Run alone: ``python benchmarks/training.py --repeat 3`` prints one JSON object.

The model is the seeds' stack, Linear(784, 256) → ReLU → Dropout → Linear(256, 128) →
ReLU → Linear(128, 10), trained for one epoch on MNIST-shaped random data
(60 000 × 784) with lecture 08's loop and optimizer (Adam, lr 1e-3, batch 128 as
for MNIST; fused, and once more unfused, Adam's default before the lecture used
``fused=True``). The lower bound is the epoch's matrix-multiply FLOPs divided by
the matmul FLOP rate measured in the same repeat on the same shapes.
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


# The loop lecture 08 teaches (its section 8.3), copied verbatim;
# tests/dlcourse/test_bench.py checks that it still matches.
def train_one_epoch(model, X, y, optimizer, loss_fn, batch_size, generator):
    """One pass over (X, y) in shuffled minibatches; returns the mean training loss."""
    model.train()
    order = torch.randperm(len(y), generator=generator).to(X.device)
    total = torch.zeros((), device=X.device)
    for start in range(0, len(y), batch_size):
        idx = order[start:start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(X[idx]), y[idx])
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(idx)         # the batch's sum of losses
    return total.item() / len(y)


def time_course_epoch(X, y, batch_size: int, fused: bool) -> float:
    """Seconds for one epoch of the lecture's loop with the lecture's optimizer (Adam, lr 1e-3)."""
    model = make_model().to(X.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    generator = torch.Generator().manual_seed(0)
    _sync(X.device)
    start = time.perf_counter()
    train_one_epoch(model, X, y, optimizer, nn.CrossEntropyLoss(), batch_size, generator)
    _sync(X.device)
    return time.perf_counter() - start


class ImageDataset(torch.utils.data.Dataset):
    """Lecture 08's textbook Dataset: one (image, label) pair per index."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]


def train_epoch_dataloader(model, X, y, batch_size: int) -> float:
    """The same epoch through lecture 08's per-sample ``Dataset`` + ``DataLoader`` (one ``__getitem__`` per image)."""
    loader = torch.utils.data.DataLoader(ImageDataset(X, y), batch_size=batch_size, shuffle=True, num_workers=0,
                                         generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def run(n: int = 60_000, batch_size: int = 128, loader_batch: int = 64, repeat: int = 3,
        device: str = "cpu") -> dict:
    """Each repeat measures the matmul rate and every loop back to back; ratios are taken within a repeat."""
    torch.manual_seed(0)
    X = torch.rand(n, SIZES[0], device=device)
    y = torch.randint(0, SIZES[-1], (n,), device=device)
    flops = epoch_flops(n)
    runs = []
    for _ in range(repeat):
        one = {"bound_s": flops / matmul_rate(batch_size, device=device),
               "course_loop_s": time_course_epoch(X, y, batch_size, fused=True),
               "unfused_s": time_course_epoch(X, y, batch_size, fused=False)}
        if device == "cpu":
            one["dataloader_s"] = train_epoch_dataloader(make_model(), X, y, loader_batch)
        runs.append(one)
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    ratios = {key.removesuffix("_s") + "_over_bound": statistics.median(r[key] / r["bound_s"] for r in runs)
              for key in runs[0] if key != "bound_s"}
    return {
        "samples": n, "batch_size": batch_size, "loader_batch_size": loader_batch, "repeat": repeat,
        "epoch_gflop": flops / 1e9, "matmul_gflops": flops / median["bound_s"] / 1e9,
        "torch_threads": torch.get_num_threads(), "device": device, **median, **ratios,
        "fused_speedup": statistics.median(r["unfused_s"] / r["course_loop_s"] for r in runs), "runs": runs,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(json.dumps(run(args.samples, repeat=args.repeat, device=args.device)))
