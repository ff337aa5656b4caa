#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Training throughput of siamese-train against the same training in Python.

Runs `siamese-train train` and a Python PyTorch loop that trains the same
network (Conv3x3 -> BatchNorm -> ReLU stages, max-pool between stages, global
average pooling, a linear layer, L2 normalisation) with the same batch (P
classes x K images of Fashion-MNIST built from the 8-bit images), the same
loss (batch-hard or semi-hard triplet, or the pair head with BCE) and the
same optimizer, on the same thread count, alternating in one run (--repeats times each, the
median counts, so that load from other processes hits both alike).
Python's torch is Debian's python3-torch, i.e. the same LibTorch 1.13 the C++
trainer links.  Prints images per second of both and their ratio.

Usage: bench_trainer.py SIAMESE_TRAIN [--threads N] [--steps N] [--mode ...]
"""

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def load_idx_images(path):
    with gzip.open(path) as f:
        data = f.read()
    count, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(count, 1, rows, cols)


def load_idx_labels(path):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)


class EmbeddingNet(torch.nn.Module):
    def __init__(self, channels, embedding_dim):
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


def mined_triplet_loss(embeddings, labels, margin, semi_hard):
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


def python_throughput(args, images, labels):
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as siamese-train does: the same arithmetic on both sides
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    net = EmbeddingNet(args.channels, args.embedding_dim)
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
    start = time.perf_counter()
    for _ in range(args.steps):
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
            loss = mined_triplet_loss(net(batch(indices)), torch.from_numpy(labels[indices]),
                                      0.2, args.mode == "semi-hard")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return per_step * args.steps / (time.perf_counter() - start)


def cpp_command(args, log):
    command = [args.siamese_train, "train", "--data", FASHION_MNIST,
               "--channels", ",".join(map(str, args.channels)),
               "--embedding-dim", str(args.embedding_dim), "--no-augment",
               "--validation-fraction", "0", "--optimizer", "adam", "--lr", "0.001",
               "--steps", str(args.steps), "--steps-per-epoch", str(args.steps),
               "--threads", str(args.threads), "--log", log]
    if args.mode == "pair":
        return command + ["--mode", "pair", "--pair-loss", "bce", "--head-hidden", "32",
                          "--batch-size", str(args.classes * args.per_class // 2)]
    return command + ["--mode", "triplet", "--mining", args.mode,
                      "--classes-per-batch", str(args.classes),
                      "--images-per-class", str(args.per_class)]


def cpp_throughput(args):
    with tempfile.TemporaryDirectory() as scratch:
        log = os.path.join(scratch, "log.jsonl")
        subprocess.run(cpp_command(args, log), check=True, stderr=subprocess.DEVNULL)
        with open(log) as f:
            return json.loads(f.readline())["images_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("siamese_train")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--mode", choices=["batch-hard", "semi-hard", "pair"],
                        default="batch-hard")
    parser.add_argument("--channels", type=lambda s: [int(c) for c in s.split(",")],
                        default=[32, 64, 128])
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--classes", type=int, default=8, help="P of the P x K batch")
    parser.add_argument("--per-class", type=int, default=8, help="K of the P x K batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--python-channels-last", action="store_true",
                        help="give the Python side the channels-last layout siamese-train uses")
    args = parser.parse_args()
    print("C++:", " ".join(cpp_command(args, "LOG.jsonl")), flush=True)

    images = load_idx_images(os.path.join(FASHION_MNIST, "train-images-idx3-ubyte.gz"))
    labels = load_idx_labels(os.path.join(FASHION_MNIST, "train-labels-idx1-ubyte.gz"))
    cpp_runs, python_runs = [], []
    for _ in range(args.repeats):
        cpp_runs.append(cpp_throughput(args))
        python_runs.append(python_throughput(args, images, labels))
    cpp, python = statistics.median(cpp_runs), statistics.median(python_runs)
    print(f"mode {args.mode}, {args.threads} thread(s), {args.steps} steps of "
          f"{args.classes * args.per_class} images, channels {args.channels}, "
          f"Python layout {'channels-last' if args.python_channels_last else 'NCHW'}, "
          f"median of {args.repeats}")
    print(f"siamese-train (C++): {cpp:8.0f} images/s")
    print(f"Python PyTorch:      {python:8.0f} images/s")
    print(f"ratio C++ / Python:  {cpp / python:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
