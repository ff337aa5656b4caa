#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Training CPU time of siamese-train against the same training in Python.

Runs `siamese-train train --lockstep` and a Python PyTorch loop that trains
the same network (Conv3x3 -> BatchNorm -> ReLU stages, max-pool between
stages, global average pooling, a linear layer, L2 normalisation) with the
same batches (P classes x K images of Fashion-MNIST built from the 8-bit
images), the same loss (batch-hard or semi-hard triplet, or the pair head
with BCE) and the same optimizer (Adam, constant learning rate), on the same
thread count.  Python's torch is Debian's python3-torch, i.e. the same
LibTorch 1.13 the C++ trainer links.

Both run as child processes of this driver, which steps them alternately one
training step at a time (a byte on the child's stdin runs one step; the
child answers with that step's process CPU time), so that load from other
programs on the machine falls on both alike.  It prints

* per step: process CPU time of each side (all its threads), summed over
  rounds of --round-steps steps each; the ratio Python / C++ of each round
  and the median, minimum and maximum over the rounds (the first
  --warmup steps of each side are left out);
* per process: the CPU time of each child from its start to its exit
  (interpreter or dynamic loader, imports, loading and normalising the
  images, building the network, all steps, exit), from wait4().

Usage: bench_trainer.py SIAMESE_TRAIN [--threads N] [--steps N] [--mode ...]
"""

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import time

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

# What both children run with, so that the figure compares training work
# and not two process environments (--as-launched leaves them out):
# * OMP_WAIT_POLICY=passive: siamese-train sets it for itself (trainer/main.cpp);
#   left at libgomp's default, the Python side's OpenMP threads spin at every
#   barrier and burn CPU time while a descheduled partner catches up.
# * glibc's heap kept rather than handed back to the kernel: in the Python
#   process glibc returns the step's large freed blocks (activations and
#   gradients, MBs each) and takes them back as fresh pages the next step,
#   about 4,700 minor page faults and 30-40 ms of system time per step (at
#   one thread, measured with getrusage: user 85 ms + sys 30-40 ms per step
#   with the defaults, 31 + 0.4 with these settings); siamese-train's steps
#   fault no pages with or without them.
SAME_ENVIRONMENT = {
    "OMP_WAIT_POLICY": "passive",
    "MALLOC_MMAP_THRESHOLD_": str(1 << 30),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
}


def load_idx_images(path):
    import numpy as np
    with gzip.open(path) as f:
        data = f.read()
    count, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(count, 1, rows, cols)


def load_idx_labels(path):
    import numpy as np
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)


# ---------------------------------------------------------------------------
# The Python side (runs in the worker child, `--worker`).

def make_embedding_net(torch, channels, embedding_dim):
    import torch.nn.functional as F

    class EmbeddingNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            layers, width = [], 1
            for stage, out in enumerate(channels):
                if stage:
                    layers.append(torch.nn.MaxPool2d(2))
                layers += [torch.nn.Conv2d(width, out, 3, padding=1, bias=False),
                           torch.nn.BatchNorm2d(out), torch.nn.ReLU()]
                width = out
            layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                       torch.nn.Linear(width, embedding_dim)]
            self.layers = torch.nn.Sequential(*layers)

        def forward(self, x):
            return F.normalize(self.layers(x), p=2, dim=1)

    return EmbeddingNet()


def mined_triplet_loss(torch, embeddings, labels, margin, semi_hard):
    with torch.no_grad():
        d = (embeddings.detach().unsqueeze(1) - embeddings.detach().unsqueeze(0)).pow(2).sum(2)
        equal = labels.unsqueeze(1) == labels.unsqueeze(0)
        same = equal & ~torch.eye(len(labels), dtype=torch.bool)
        different = ~equal
        big = d.max() + 1
        if semi_hard:
            pairs = same.nonzero()
            anchor, positive = pairs[:, 0], pairs[:, 1]
            to_neg = d.index_select(0, anchor)
            neg_mask = different.index_select(0, anchor)
            d_pos = to_neg.gather(1, positive.unsqueeze(1))
            farther = neg_mask & (to_neg > d_pos)
            nearest = to_neg.masked_fill(~farther, big).argmin(1)
            farthest = to_neg.masked_fill(~neg_mask, -1).argmax(1)
            negative = torch.where(farther.any(1), nearest, farthest)
        else:
            positive = d.masked_fill(~same, -1).argmax(1)
            negative = d.masked_fill(~different, big).argmin(1)
            anchor = torch.arange(len(labels))
    a, p, n = embeddings[anchor], embeddings[positive], embeddings[negative]
    return ((a - p).pow(2).sum(1) - (a - n).pow(2).sum(1) + margin).clamp_min(0).mean()


def python_worker(args):
    """Loads the data, builds the model, then runs one step per byte on stdin."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as siamese-train does: the same arithmetic on both sides
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    images = load_idx_images(os.path.join(FASHION_MNIST, "train-images-idx3-ubyte.gz"))
    labels = load_idx_labels(os.path.join(FASHION_MNIST, "train-labels-idx1-ubyte.gz"))
    # siamese-train loads the test set too; so does this side, to do the same work.
    load_idx_images(os.path.join(FASHION_MNIST, "t10k-images-idx3-ubyte.gz"))
    load_idx_labels(os.path.join(FASHION_MNIST, "t10k-labels-idx1-ubyte.gz"))
    net = make_embedding_net(torch, args.channels, args.embedding_dim)
    layout = torch.channels_last if args.python_channels_last else torch.contiguous_format
    net = net.to(memory_format=layout)
    head = None
    parameters = list(net.parameters())
    if args.mode == "pair":
        head = torch.nn.Sequential(torch.nn.Linear(args.embedding_dim, 32), torch.nn.ReLU(),
                                   torch.nn.Linear(32, 1))
        parameters += list(head.parameters())
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    mean = float(images.mean())
    scale = 1.0 / float(images.std())
    by_class = [np.flatnonzero(labels == c) for c in range(10)]

    def batch(indices):
        x = torch.from_numpy(images[indices]).float()
        return ((x - mean) * scale).contiguous(memory_format=layout)

    per_step = args.classes * args.per_class

    def step():
        optimizer.zero_grad()
        if args.mode == "pair":
            half = per_step // 2
            # Balanced pairs: first half positives, second half negatives.
            cls = rng.integers(0, 10, half)
            first = np.array([rng.choice(by_class[c]) for c in cls])
            second_cls = np.where(np.arange(half) < half // 2, cls,
                                  (cls + rng.integers(1, 10, half)) % 10)
            second = np.array([rng.choice(by_class[c]) for c in second_cls])
            same = torch.from_numpy((cls == second_cls).astype(np.float32))
            h = net(torch.cat([batch(first), batch(second)]))
            h1, h2 = h.chunk(2)
            logits = head((h1 - h2).abs()).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(logits, same)
        else:
            classes = rng.choice(10, args.classes, replace=False)
            indices = np.concatenate([rng.choice(by_class[c], args.per_class, replace=False)
                                      for c in classes])
            loss = mined_triplet_loss(torch, net(batch(indices)),
                                      torch.from_numpy(labels[indices]), 0.2,
                                      args.mode == "semi-hard")
        if not np.isfinite(loss.item()):  # siamese-train checks every step's loss too
            raise RuntimeError("the loss is not finite")
        loss.backward()
        optimizer.step()

    stdin, stdout = sys.stdin.buffer, sys.stdout
    while stdin.read(1):
        cpu, wall = time.process_time(), time.perf_counter()
        step()
        stdout.write(f"step {time.process_time() - cpu:.9f} {time.perf_counter() - wall:.9f}\n")
        stdout.flush()
    return 0


# ---------------------------------------------------------------------------
# The driver.

def cpp_command(args):
    command = [args.siamese_train, "train", "--data", FASHION_MNIST,
               "--channels", ",".join(map(str, args.channels)),
               "--embedding-dim", str(args.embedding_dim), "--no-augment",
               "--validation-fraction", "0", "--optimizer", "adam", "--lr", "0.001",
               "--lr-schedule", "constant",
               "--steps", str(args.steps), "--steps-per-epoch", str(args.steps),
               "--threads", str(args.threads), "--lockstep"]
    if args.mode == "pair":
        return command + ["--mode", "pair", "--pair-loss", "bce", "--head-hidden", "32",
                          "--batch-size", str(args.classes * args.per_class // 2)]
    return command + ["--mode", "triplet", "--mining", args.mode,
                      "--classes-per-batch", str(args.classes),
                      "--images-per-class", str(args.per_class)]


def worker_command(args):
    command = [sys.executable, os.path.abspath(__file__), args.siamese_train, "--worker",
               "--threads", str(args.threads), "--mode", args.mode,
               "--channels", ",".join(map(str, args.channels)),
               "--embedding-dim", str(args.embedding_dim),
               "--classes", str(args.classes), "--per-class", str(args.per_class)]
    return command + (["--python-channels-last"] if args.python_channels_last else [])


class Child:
    """A trainer child process stepped through its stdin."""

    def __init__(self, name, command, stderr, env):
        self.name = name
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=stderr, env=env)
        self.cpu, self.wall = [], []

    def step(self):
        self.process.stdin.write(b"s")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"{self.name} ended before its step (see its log)")
            if line.startswith("step "):
                break
        _, cpu, wall = line.split()
        self.cpu.append(float(cpu))
        self.wall.append(float(wall))

    def finish(self):
        """Closes stdin, waits for the exit; returns the process's whole CPU time."""
        self.process.stdin.close()
        self.process.stdout.read()
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        if self.process.returncode != 0:
            raise RuntimeError(f"{self.name} exited with status {self.process.returncode}")
        return usage.ru_utime + usage.ru_stime


def spread(values):
    return (f"{statistics.median(values):.3f} [min {min(values):.3f}, "
            f"max {max(values):.3f}]")


def drive(args):
    rounds = (args.steps - args.warmup) // args.round_steps
    if rounds < 1:
        sys.exit("bench_trainer.py: --steps must exceed --warmup by one round or more")
    log = open(args.log, "w") if args.log else subprocess.DEVNULL
    env = dict(os.environ)
    if not args.as_launched:
        env.update(SAME_ENVIRONMENT)
    settings = " ".join(f"{key}={env[key]}" for key in SAME_ENVIRONMENT if key in env)
    print("both with:", settings or "(the environment as launched)", flush=True)
    print("C++:   ", " ".join(cpp_command(args)), flush=True)
    print("Python:", " ".join(worker_command(args)), flush=True)
    cpp = Child("siamese-train", cpp_command(args), log, env)
    python = Child("the Python worker", worker_command(args), log, env)
    # Alternate step by step; which side goes first alternates too.
    for step in range(args.steps):
        first, second = (cpp, python) if step % 2 == 0 else (python, cpp)
        first.step()
        second.step()
    cpp_process, python_process = cpp.finish(), python.finish()

    ratios, cpp_rounds, python_rounds = [], [], []
    for r in range(rounds):
        steps = slice(args.warmup + r * args.round_steps, args.warmup + (r + 1) * args.round_steps)
        cpp_rounds.append(sum(cpp.cpu[steps]) / args.round_steps)
        python_rounds.append(sum(python.cpu[steps]) / args.round_steps)
        ratios.append(python_rounds[-1] / cpp_rounds[-1])
    measured = slice(args.warmup, args.warmup + rounds * args.round_steps)
    images = args.classes * args.per_class
    print(f"mode {args.mode}, {args.threads} thread(s), {args.steps} steps of {images} images, "
          f"channels {args.channels}, Python layout "
          f"{'channels-last' if args.python_channels_last else 'NCHW'}; "
          f"steps alternate one by one; {rounds} rounds of {args.round_steps} steps after "
          f"{args.warmup} warm-up steps")
    print("CPU ms per step (process CPU, all threads), median [min, max] over rounds:")
    print(f"  siamese-train (C++): {spread([1e3 * c for c in cpp_rounds])}")
    print(f"  Python PyTorch:      {spread([1e3 * c for c in python_rounds])}")
    print(f"  wall ms per step, mean: C++ {1e3 * statistics.mean(cpp.wall[measured]):.1f}, "
          f"Python {1e3 * statistics.mean(python.wall[measured]):.1f}")
    print(f"ratio Python / C++ CPU per step (x faster), per round: {spread(ratios)}")
    print("whole process CPU s (start, libraries, data loading, model, all steps, exit): "
          f"C++ {cpp_process:.2f}, Python {python_process:.2f}, "
          f"ratio Python / C++ {python_process / cpp_process:.3f}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("siamese_train")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=45)
    parser.add_argument("--warmup", type=int, default=5,
                        help="first steps of each side left out of the per-step figures")
    parser.add_argument("--round-steps", type=int, default=10,
                        help="steps per side in each round of the per-round ratios")
    parser.add_argument("--mode", choices=["batch-hard", "semi-hard", "pair"],
                        default="batch-hard")
    parser.add_argument("--channels", type=lambda s: [int(c) for c in s.split(",")],
                        default=[32, 64, 128])
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--classes", type=int, default=8, help="P of the P x K batch")
    parser.add_argument("--per-class", type=int, default=8, help="K of the P x K batch")
    parser.add_argument("--python-channels-last", action="store_true",
                        help="give the Python side the channels-last layout siamese-train uses")
    parser.add_argument("--log", help="write both children's stderr here")
    parser.add_argument("--as-launched", action="store_true",
                        help="run both children in this environment as it is, without "
                             "SAME_ENVIRONMENT (the Python side then spins at OpenMP barriers "
                             "and re-faults its heap every step)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    return python_worker(args) if args.worker else drive(args)


if __name__ == "__main__":
    sys.exit(main())
