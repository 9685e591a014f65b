"""Time mlpkit against scikit-learn and PyTorch on the same data, in one process.

Run from the repository root with the test extra installed (it brings torch):

    .venv/bin/python benchmarks/run.py            # every workload
    .venv/bin/python benchmarks/run.py --quick    # fewer repeats, smaller data

Each measurement is repeated and the median is printed with the ratio
mlpkit / peer. Every library runs with the same thread count (``--threads``,
default 2) on the same generated arrays, architecture, optimizer and batch
size. Timings are wall-clock seconds on whatever machine runs this script;
BENCHMARKS.md records results together with the machine they came from.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from mlpkit import MLP
from mlpkit.network import Network, count_parameters
from mlpkit.optimizers import Adam
from mlpkit.training import run_epoch


@dataclass
class Workload:
    """One training benchmark: data shape, layer sizes and batch size."""

    name: str
    n_samples: int
    layer_sizes: tuple[int, ...]
    batch_size: int


WIDE = Workload("wide", 60_000, (784, 256, 128, 10), 128)
TABULAR = Workload("tabular", 20_000, (20, 64, 64, 2), 32)


def processor_name() -> str:
    """Return the CPU model, which ``platform.processor()`` leaves empty on Linux."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def optimizer_path(workload: Workload) -> str:
    """Return which implementation runs the Adam step of ``workload``."""
    from mlpkit import compiled

    size = count_parameters(workload.layer_sizes, "relu", "softmax")
    if compiled.adam_kernel(size, np.float32) is None:
        return "Adam step in NumPy"
    import numba

    return f"Adam step compiled by numba {numba.__version__}"


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Return the median wall-clock time of ``repeats`` calls, after one warm-up."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_classification(workload: Workload, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return float32 inputs and integer labels drawn from a random linear teacher."""
    rng = np.random.default_rng(seed)
    n_features, n_classes = workload.layer_sizes[0], workload.layer_sizes[-1]
    X = rng.standard_normal((workload.n_samples, n_features), dtype=np.float32)
    teacher = rng.standard_normal((n_features, n_classes), dtype=np.float32)
    labels = np.argmax(X @ teacher, axis=1)
    return X, labels


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    encoded = np.zeros((labels.size, n_classes), dtype=np.float32)
    encoded[np.arange(labels.size), labels] = 1.0
    return encoded


def mlpkit_epoch(workload: Workload, X: np.ndarray, labels: np.ndarray) -> Callable[[], object]:
    n_classes = workload.layer_sizes[-1]
    network = Network(
        workload.layer_sizes,
        activation="relu",
        output_activation="softmax",
        loss="categorical_cross_entropy",
        seed=0,
    )
    optimizer = Adam(learning_rate=1e-3)
    targets = one_hot(labels, n_classes)
    rng = np.random.default_rng(0)
    return lambda: run_epoch(network, optimizer, X, targets, None, workload.batch_size, rng)


def torch_epoch(workload: Workload, X: np.ndarray, labels: np.ndarray) -> Callable[[], object]:
    import torch

    sizes = workload.layer_sizes
    modules: list[torch.nn.Module] = []
    for index in range(len(sizes) - 1):
        modules.append(torch.nn.Linear(sizes[index], sizes[index + 1]))
        if index < len(sizes) - 2:
            modules.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*modules)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = torch.nn.CrossEntropyLoss()
    inputs = torch.from_numpy(X)
    targets = torch.from_numpy(labels.astype(np.int64))
    generator = torch.Generator().manual_seed(0)

    def epoch() -> None:
        order = torch.randperm(inputs.shape[0], generator=generator)
        for start in range(0, inputs.shape[0], workload.batch_size):
            rows = order[start : start + workload.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(inputs[rows]), targets[rows])
            loss.backward()
            optimizer.step()

    return epoch


def sklearn_epoch(workload: Workload, X: np.ndarray, labels: np.ndarray) -> Callable[[], object]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def epoch() -> None:
        model = MLPClassifier(
            hidden_layer_sizes=workload.layer_sizes[1:-1],
            solver="adam",
            batch_size=workload.batch_size,
            learning_rate_init=1e-3,
            alpha=0.0,
            max_iter=1,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, labels)

    return epoch


def training_flops(workload: Workload) -> float:
    """Return the floating-point operations of one epoch's matrix products.

    Per layer and row: ``2·n_in·n_out`` for ``z = a·W``, the same for
    ``∂L/∂W = aᵀ·δ``, and again for ``δ·Wᵀ`` except in the first layer.
    """
    sizes = workload.layer_sizes
    per_row = 0
    for index in range(len(sizes) - 1):
        products = 2 if index == 0 else 3
        per_row += products * 2 * sizes[index] * sizes[index + 1]
    return float(per_row * workload.n_samples)


def numpy_matmul_rate(workload: Workload, repeats: int) -> float:
    """Return NumPy's float32 GFLOP/s on the products of one training batch."""
    rng = np.random.default_rng(0)
    sizes, batch = workload.layer_sizes, workload.batch_size
    shapes = []
    for index in range(len(sizes) - 1):
        n_in, n_out = sizes[index], sizes[index + 1]
        shapes.append(((batch, n_in), (n_in, n_out)))  # forward
        shapes.append(((n_in, batch), (batch, n_out)))  # weight gradient
        if index > 0:
            shapes.append(((batch, n_out), (n_out, n_in)))  # delta
    operands = [
        (rng.standard_normal(a, dtype=np.float32), rng.standard_normal(b, dtype=np.float32))
        for a, b in shapes
    ]
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in operands)
    loops = 200

    def products() -> None:
        for _ in range(loops):
            for a, b in operands:
                np.matmul(a, b)

    return flops * loops / median_seconds(products, repeats) / 1e9


def format_seconds(seconds: float) -> str:
    """Return ``seconds`` in s, ms or µs, whichever shows four figures or fewer."""
    if seconds >= 1.0:
        return f"{seconds:7.3f} s "
    if seconds >= 1e-3:
        return f"{seconds * 1e3:7.2f} ms"
    return f"{seconds * 1e6:7.1f} µs"


def print_row(label: str, seconds: dict[str, float]) -> None:
    ours = seconds["mlpkit"]
    parts = [f"{label:<28} mlpkit {format_seconds(ours)}"]
    for peer in ("pytorch", "scikit-learn"):
        if peer in seconds:
            ratio = ours / seconds[peer]
            parts.append(f"{peer} {format_seconds(seconds[peer])} (ratio {ratio:.2f})")
    print("   ".join(parts))


def benchmark_training(workload: Workload, repeats: int) -> None:
    X, labels = make_classification(workload)
    seconds = {
        "mlpkit": median_seconds(mlpkit_epoch(workload, X, labels), repeats),
        "pytorch": median_seconds(torch_epoch(workload, X, labels), repeats),
        "scikit-learn": median_seconds(sklearn_epoch(workload, X, labels), repeats),
    }
    print_row(f"{workload.name}: one epoch", seconds)
    achieved = training_flops(workload) / seconds["mlpkit"] / 1e9
    reference = numpy_matmul_rate(workload, repeats)
    print(
        f"{'':<28} mlpkit {achieved:.1f} GFLOP/s = {achieved / reference:.0%} of "
        f"NumPy's matmul rate on the same shapes ({reference:.1f} GFLOP/s), "
        f"{optimizer_path(workload)}"
    )


def torch_mlp(sizes: tuple[int, ...]):
    import torch

    modules: list[torch.nn.Module] = []
    for index in range(len(sizes) - 1):
        modules.append(torch.nn.Linear(sizes[index], sizes[index + 1]))
        if index < len(sizes) - 2:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


def digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.25, stratify=digits.target, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return (
        scaler.transform(X_train).astype(np.float32),
        scaler.transform(X_test).astype(np.float32),
        y_train,
        y_test,
    )


def time_to_accuracy(
    train_one_epoch: Callable[[], None],
    accuracy: Callable[[], float],
    target: float,
    max_epochs: int = 300,
) -> tuple[float, int]:
    """Return the training seconds and epochs until held-out accuracy reaches ``target``.

    Evaluation time is not counted.
    """
    spent = 0.0
    for epoch in range(1, max_epochs + 1):
        start = time.perf_counter()
        train_one_epoch()
        spent += time.perf_counter() - start
        if accuracy() >= target:
            return spent, epoch
    return spent, max_epochs


def benchmark_digits(target: float) -> None:
    """Time each library to the same held-out accuracy on scikit-learn's digits."""
    X_train, X_test, y_train, y_test = digits_split()
    sizes, batch = (64, 100, 10), 32
    results: dict[str, tuple[float, int]] = {}

    network = Network(
        sizes, output_activation="softmax", loss="categorical_cross_entropy", seed=0
    )
    optimizer = Adam(learning_rate=1e-3)
    targets = one_hot(y_train, 10)
    rng = np.random.default_rng(0)
    results["mlpkit"] = time_to_accuracy(
        lambda: run_epoch(network, optimizer, X_train, targets, None, batch, rng),
        lambda: float((network.forward(X_test).argmax(1) == y_test).mean()),
        target,
    )

    from sklearn.neural_network import MLPClassifier

    classifier = MLPClassifier(
        hidden_layer_sizes=(100,), batch_size=batch, alpha=0.0, random_state=0
    )
    results["scikit-learn"] = time_to_accuracy(
        lambda: classifier.partial_fit(X_train, y_train, classes=np.arange(10)),
        lambda: float(classifier.score(X_test, y_test)),
        target,
    )

    import torch

    model = torch_mlp(sizes)
    torch_optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = torch.nn.CrossEntropyLoss()
    inputs, labels = torch.from_numpy(X_train), torch.from_numpy(y_train)
    test_inputs = torch.from_numpy(X_test)
    generator = torch.Generator().manual_seed(0)

    def torch_epoch_digits() -> None:
        order = torch.randperm(inputs.shape[0], generator=generator)
        for start in range(0, inputs.shape[0], batch):
            rows = order[start : start + batch]
            torch_optimizer.zero_grad(set_to_none=True)
            loss_function(model(inputs[rows]), labels[rows]).backward()
            torch_optimizer.step()

    def torch_accuracy() -> float:
        with torch.no_grad():
            predicted = model(test_inputs).argmax(1).numpy()
        return float((predicted == y_test).mean())

    results["pytorch"] = time_to_accuracy(torch_epoch_digits, torch_accuracy, target)

    print_row(
        f"digits to {target:.0%} accuracy", {name: r[0] for name, r in results.items()}
    )
    epochs = ", ".join(f"{name} {r[1]}" for name, r in results.items())
    print(f"{'':<28} epochs: {epochs}")


def benchmark_prediction(repeats: int) -> None:
    """Time predicting one row and 10,000 rows with a digits classifier."""
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    import torch

    digits = load_digits()
    X, y = digits.data, digits.target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = MLP(max_epochs=5, seed=0).fit(X, y)
        theirs = MLPClassifier(hidden_layer_sizes=(100,), max_iter=5, random_state=0)
        theirs.fit(X, y)
    model = torch_mlp((64, 100, 10))
    many = np.resize(X, (10_000, X.shape[1]))
    for label, rows, loops in (("predict 1 row", X[:1], 2000), ("predict 10 000 rows", many, 20)):
        rows32 = torch.from_numpy(rows.astype(np.float32))

        def torch_predict() -> None:
            with torch.no_grad():
                model(rows32).argmax(1)

        seconds = {
            "mlpkit": median_seconds(lambda: [ours.predict(rows) for _ in range(loops)], repeats),
            "pytorch": median_seconds(lambda: [torch_predict() for _ in range(loops)], repeats),
            "scikit-learn": median_seconds(
                lambda: [theirs.predict(rows) for _ in range(loops)], repeats
            ),
        }
        per_call = {name: value / loops for name, value in seconds.items()}
        print_row(label, per_call)


def peak_memory_worker(library: str, workload_name: str, rows: int) -> None:
    """Train one epoch of a workload with one library and print peak RSS in MiB."""
    base = {"wide": WIDE, "tabular": TABULAR}[workload_name]
    workload = Workload(base.name, rows, base.layer_sizes, base.batch_size)
    X, labels = make_classification(workload)
    make = {"mlpkit": mlpkit_epoch, "pytorch": torch_epoch, "scikit-learn": sklearn_epoch}
    make[library](workload, X, labels)()
    print(peak_resident_mib())


def peak_resident_mib() -> float:
    """Return this process's peak resident memory in MiB.

    Reads VmHWM from /proc/self/status, which starts afresh at exec; Linux
    carries ru_maxrss over from the parent process, so it is not used.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM missing from /proc/self/status; run on Linux")


def benchmark_peak_memory(workload: Workload, threads: int) -> None:
    """Run each library's epoch in a fresh process and compare peak resident memory."""
    peaks = {}
    for library in ("mlpkit", "pytorch", "scikit-learn"):
        command = [
            sys.executable, __file__, "--threads", str(threads),
            "--peak-memory-worker", library, workload.name, str(workload.n_samples),
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True)
        peaks[library] = float(output.stdout.strip().splitlines()[-1])
    parts = [f"{'peak memory: ' + workload.name:<28} mlpkit {peaks['mlpkit']:6.0f} MiB"]
    for peer in ("pytorch", "scikit-learn"):
        ratio = peaks["mlpkit"] / peaks[peer]
        parts.append(f"{peer} {peaks[peer]:6.0f} MiB (ratio {ratio:.2f})")
    print("   ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--threads", type=int, default=2, help="threads for every library")
    parser.add_argument("--quick", action="store_true", help="3 repeats, tenth of the rows")
    parser.add_argument("--peak-memory-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.peak_memory_worker:
        library, name, rows = args.peak_memory_worker
        if library == "pytorch":
            import torch

            torch.set_num_threads(args.threads)
        with threadpool_limits(limits=args.threads):
            peak_memory_worker(library, name, int(rows))
        return

    import torch

    torch.set_num_threads(args.threads)

    repeats = 3 if args.quick else args.repeats
    workloads = [WIDE, TABULAR]
    if args.quick:
        workloads = [
            Workload(w.name, w.n_samples // 10, w.layer_sizes, w.batch_size) for w in workloads
        ]
    print(
        f"machine: {platform.machine()}, {processor_name()}, threads={args.threads}; "
        f"numpy {np.__version__}, torch {torch.__version__}"
    )
    with threadpool_limits(limits=args.threads):
        for workload in workloads:
            benchmark_training(workload, repeats)
        benchmark_digits(target=0.97)
        benchmark_prediction(repeats)
    for workload in workloads:
        benchmark_peak_memory(workload, args.threads)


if __name__ == "__main__":
    main()
