"""Split one training epoch of mlpkit into its parts and time each part.

Run from the repository root with the test extra installed:

    .venv/bin/python benchmarks/breakdown.py            # the wide workload
    .venv/bin/python benchmarks/breakdown.py tabular    # the tabular workload

``run.py`` measures how fast an epoch is; this script measures where its time goes.
Each line is the median of ``--repeats`` runs of one of:

- the whole epoch, as ``run.py`` times it (Adam, shuffled batches);
- the epoch with the optimizer step skipped: forward propagation,
  backpropagation and the gathering of batches;
- the matrix products of the epoch alone, on batches gathered from the
  same shuffled rows, with every elementwise operation left out;
- gathering the shuffled batches alone;
- Adam steps alone, over the network's parameter buffer, as many as the epoch
  has batches, with nothing else evicting the buffers from the cache.

The difference between the first two lines is what the optimizer costs
inside the epoch, and the difference between the second and the third is
the elementwise work around the products (biases, activations, the loss and
the deltas). The last line prints the share of NumPy's matrix-product rate
that an epoch would reach if the optimizer and the gathering were the only
other work, which bounds what removing Python and elementwise overhead could
gain.
"""

from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from mlpkit.network import Network
from mlpkit.optimizers import Adam, Optimizer
from mlpkit.training import run_epoch
from run import (
    TABULAR,
    WIDE,
    Workload,
    make_classification,
    median_seconds,
    numpy_matmul_rate,
    one_hot,
    optimizer_path,
    processor_name,
    training_flops,
)


class SkippedStep(Optimizer):
    """An optimizer that leaves the parameters as they are."""

    name = "skipped"

    def __init__(self) -> None:
        super().__init__(learning_rate=1.0)

    def step(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        return None


def new_network(workload: Workload) -> Network:
    return Network(
        workload.layer_sizes,
        activation="relu",
        output_activation="softmax",
        loss="categorical_cross_entropy",
        seed=0,
    )


def batch_starts(workload: Workload) -> range:
    return range(0, workload.n_samples, workload.batch_size)


def products_only(workload: Workload, network: Network, X: np.ndarray, seed: int):
    """Return a function that runs only the matrix products of one epoch.

    The products have the shapes and operand layouts of training: ``a · W``
    forward, ``aᵀ · δ`` for each weight gradient and ``δ · Wᵀ`` for the
    deltas of every layer but the first.
    """
    rng = np.random.default_rng(seed)
    layers = network.layers
    batch = workload.batch_size
    outputs = [np.empty((batch, layer.weights.shape[1]), X.dtype) for layer in layers]

    def epoch() -> None:
        order = rng.permutation(workload.n_samples)
        for start in batch_starts(workload):
            inputs = X[order[start : start + workload.batch_size]]
            rows = inputs.shape[0]
            activations = [inputs]
            for layer, output in zip(layers, outputs):
                product = np.matmul(activations[-1], layer.weights, out=output[:rows])
                activations.append(product)

            # The forward outputs serve as deltas, because only their shapes matter here.
            for index in range(len(layers) - 1, -1, -1):
                delta = outputs[index][:rows]
                layer = layers[index]
                np.matmul(activations[index].T, delta, out=layer.weight_gradient)
                if index > 0:
                    np.matmul(delta, layer.weights.T)

    return epoch


def gathering_only(workload: Workload, X: np.ndarray, targets: np.ndarray, seed: int):
    """Return a function that gathers every shuffled batch of one epoch and nothing else."""
    rng = np.random.default_rng(seed)

    def epoch() -> None:
        order = rng.permutation(workload.n_samples)
        for start in batch_starts(workload):
            rows = order[start : start + workload.batch_size]
            X[rows]
            targets[rows]

    return epoch


def optimizer_only(workload: Workload, network: Network):
    """Return a function that runs one epoch's number of Adam steps and nothing else."""
    optimizer = Adam(learning_rate=1e-3)
    gradients = np.random.default_rng(0).standard_normal(
        network.parameters.size, dtype=np.float32
    ) * np.float32(1e-3)
    steps = len(batch_starts(workload))

    def epoch() -> None:
        for _ in range(steps):
            optimizer.step(network.parameters, gradients)

    return epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "workload", nargs="?", default="wide", choices=[WIDE.name, TABULAR.name]
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--threads", type=int, default=2, help="threads for NumPy's BLAS")
    args = parser.parse_args()
    workload = WIDE if args.workload == WIDE.name else TABULAR

    X, labels = make_classification(workload)
    targets = one_hot(labels, workload.layer_sizes[-1])
    with threadpool_limits(limits=args.threads):
        network = new_network(workload)
        adam = Adam(learning_rate=1e-3)
        rng = np.random.default_rng(0)
        seconds = {
            "whole epoch": median_seconds(
                lambda: run_epoch(network, adam, X, targets, None, workload.batch_size, rng),
                args.repeats,
            ),
        }
        skipped = SkippedStep()
        seconds["without the optimizer step"] = median_seconds(
            lambda: run_epoch(network, skipped, X, targets, None, workload.batch_size, rng),
            args.repeats,
        )
        seconds["matrix products alone"] = median_seconds(
            products_only(workload, network, X, seed=1), args.repeats
        )
        seconds["gathering batches alone"] = median_seconds(
            gathering_only(workload, X, targets, seed=2), args.repeats
        )
        seconds["Adam steps alone"] = median_seconds(
            optimizer_only(workload, new_network(workload)), args.repeats
        )
        reference = numpy_matmul_rate(workload, args.repeats)

    flops = training_flops(workload)
    print(f"{processor_name()}; {optimizer_path(workload)}")
    print(
        f"{workload.name}: {workload.n_samples} rows, layers {workload.layer_sizes}, "
        f"batch {workload.batch_size}, {len(batch_starts(workload))} steps per epoch"
    )
    for label, value in seconds.items():
        share = value / seconds["whole epoch"]
        print(f"  {label:<28} {value:7.3f} s  {share:5.0%} of the epoch")
    optimizer_in_epoch = seconds["whole epoch"] - seconds["without the optimizer step"]
    elementwise = (
        seconds["without the optimizer step"]
        - seconds["matrix products alone"]
        - seconds["gathering batches alone"]
    )
    print(f"  {'optimizer inside the epoch':<28} {optimizer_in_epoch:7.3f} s")
    print(f"  {'elementwise work and Python':<28} {elementwise:7.3f} s")
    if min(optimizer_in_epoch, elementwise) < 0:
        print(
            "  a negative difference means the parts varied between runs by more "
            "than the difference itself. Rerun on an idle machine or with more "
            "--repeats."
        )
    print(
        f"  NumPy's matmul rate on these shapes: {reference:.1f} GFLOP/s; the epoch "
        f"reaches {flops / seconds['whole epoch'] / 1e9 / reference:.0%} of it, and the "
        f"products alone {flops / seconds['matrix products alone'] / 1e9 / reference:.0%}"
    )
    bound = seconds["matrix products alone"] + seconds["gathering batches alone"] + min(
        optimizer_in_epoch, seconds["Adam steps alone"]
    )
    print(
        "  with no elementwise work besides the optimizer, an epoch would take "
        f"{bound:.3f} s, {flops / bound / 1e9 / reference:.0%} of NumPy's matmul rate"
    )


if __name__ == "__main__":
    main()
