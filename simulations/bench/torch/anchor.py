"""PyTorch side of the bench's training anchor (simulations/bench/torch-anchor.ts).

Trains meshfl's default models in PyTorch: the MLP 784-256-128-10 and the VGG-style CNN
(3x3 convs 16 | 32, 32 with bias and ReLU, a 2x2 max-pool after each stage, dense 64,
bias-free head), with RepOpt's constant gradient multipliers on the conv kernels applied
as one multiply per kernel per step. Batch 64, SGD lr 0.05 momentum 0.9, random
MNIST-shaped data (speed does not depend on the values), seeded.

Protocol: one JSON line per request on stdin, one JSON line per reply on stdout.
  {"model": "mlp"|"cnn", "steps": N}  ->  {"samples", "wallSeconds", "cpuSeconds", "loss"}
The first line printed is {"ready": true, "torch": version, "threads": n}. Models and
optimizer state persist across requests, as a trainer's do. Threads: the parent sets
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS and passes --threads.
"""

import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 64
LEARNING_RATE = 0.05
MOMENTUM = 0.9
# Distinct batches cycled through (the data are random; this only avoids one cached batch).
BATCHES = 16
CLASSES = 10


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Linear(128, CLASSES, bias=False),
    )


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 64),
        nn.ReLU(),
        nn.Linear(64, CLASSES, bias=False),
    )


class Run:
    def __init__(self, kind: str, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.net = mlp() if kind == "mlp" else cnn()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
        shape = (BATCHES * BATCH, 784) if kind == "mlp" else (BATCHES * BATCH, 1, 28, 28)
        self.x = torch.rand(shape, generator=gen)
        self.y = torch.randint(0, CLASSES, (BATCHES * BATCH,), generator=gen)
        # RepOpt: a constant multiplier per conv-kernel element (values do not change the cost).
        self.multipliers = [
            (m.weight, 1 + torch.rand(m.weight.shape, generator=gen))
            for m in self.net.modules()
            if isinstance(m, nn.Conv2d)
        ]
        self.step = 0

    def train(self, steps: int) -> dict:
        wall = time.perf_counter()
        cpu = time.process_time()
        loss_sum = 0.0
        for _ in range(steps):
            at = (self.step % BATCHES) * BATCH
            self.step += 1
            self.opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.net(self.x[at : at + BATCH]), self.y[at : at + BATCH])
            loss.backward()
            for weight, multiplier in self.multipliers:
                weight.grad.mul_(multiplier)
            self.opt.step()
            loss_sum += loss.item()
        return {
            "samples": steps * BATCH,
            "wallSeconds": time.perf_counter() - wall,
            "cpuSeconds": time.process_time() - cpu,
            "loss": loss_sum / max(1, steps),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs: dict = {}
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if line.strip() == "":
            continue
        try:
            request = json.loads(line)
            kind = request["model"]
            steps = int(request["steps"])
            if kind not in ("mlp", "cnn") or steps < 1:
                raise ValueError(f"bad request {line.strip()}")
            if kind not in runs:
                runs[kind] = Run(kind, args.seed)
            reply = runs[kind].train(steps)
        except Exception as error:  # reported to the parent, which stops the section
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
