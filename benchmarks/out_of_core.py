"""Train one epoch on a .npy file larger than the memory that training may use.

Run from the repository root:

    .venv/bin/python benchmarks/out_of_core.py                 # 10 000 000 × 50, 2 GB
    .venv/bin/python benchmarks/out_of_core.py --rows 1000000  # 200 MB

The script writes a float32 array of ``--rows`` rows and ``--columns`` columns to a
temporary directory: every column but the last is a standard normal feature, and
the last is a noisy linear function of them, the regression target. It writes the
file in chunks through memory maps, so generation itself stays in bounded memory.
It then trains an MLP for one epoch with streaming (statistics pass, training
pass, validation on the held-out blocks), prints the wall time of each part and
the peak resident memory of the whole process, and deletes the file.

Peak resident memory is the kernel's high-water mark for this process (VmHWM from
/proc/self/status on Linux, else ``ru_maxrss``), so it covers generation too. It
includes file pages mapped while they are being read. The script exits with
status 1 when the peak exceeds ``--max-rss-mb``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from mlpkit.blocks import DEFAULT_BLOCK_ROWS
from mlpkit.errors import ConvergenceWarning
from mlpkit.model import MLP

GENERATION_CHUNK_ROWS = 250_000
"""Rows written per chunk while generating: 50 MB for 50 float32 columns."""


def peak_rss_mb() -> float:
    """Return the peak resident memory of this process in MiB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def write_regression_npy(path: Path, n_rows: int, n_columns: int, seed: int) -> None:
    """Write features and a linear target to ``path`` in chunks of rows."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=n_columns - 1).astype(np.float32)
    array = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n_rows, n_columns)
    )
    del array
    for start in range(0, n_rows, GENERATION_CHUNK_ROWS):
        stop = min(start + GENERATION_CHUNK_ROWS, n_rows)
        features = rng.standard_normal((stop - start, n_columns - 1), dtype=np.float32)
        noise = rng.standard_normal(stop - start, dtype=np.float32)
        # Each chunk maps the file anew and closes the map, because the written
        # pages of an open map count as resident memory of this process.
        array = np.load(path, mmap_mode="r+")
        array[start:stop, :-1] = features
        array[start:stop, -1] = features @ weights + 0.5 * noise
        array.flush()
        del array


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows to generate")
    parser.add_argument(
        "--columns", type=int, default=50, help="columns, the target included"
    )
    parser.add_argument(
        "--block-rows", type=int, default=DEFAULT_BLOCK_ROWS, help="rows per block"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="rows per batch")
    parser.add_argument(
        "--hidden", type=int, default=64, help="units of the hidden layer"
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="directory of the temporary file (default: system temp)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of data and training")
    parser.add_argument(
        "--max-rss-mb",
        type=float,
        default=600.0,
        help="peak resident memory in MiB above which the script exits with status 1",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_arguments()
    size_gb = args.rows * args.columns * 4 / 1e9
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    print(f"after imports: peak RSS {peak_rss_mb():.0f} MiB")

    with tempfile.TemporaryDirectory(prefix="mlpkit-bench-", dir=args.dir) as directory:
        path = Path(directory) / "data.npy"
        start = time.perf_counter()
        write_regression_npy(path, args.rows, args.columns, args.seed)
        generation_seconds = time.perf_counter() - start
        print(
            f"generated {args.rows:,} × {args.columns} float32 ({size_gb:.2f} GB) in "
            f"{generation_seconds:.1f} s; peak RSS {peak_rss_mb():.0f} MiB"
        )

        model = MLP(
            hidden_layers=(args.hidden,),
            batch_size=args.batch_size,
            max_epochs=1,
            validation_fraction=0.1,
            seed=args.seed,
        )
        start = time.perf_counter()
        with warnings.catch_warnings():
            # One epoch is the point of the benchmark, not a convergence failure.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit_stream(path, block_rows=args.block_rows)
        training_seconds = time.perf_counter() - start

    record = model.history_.records[-1]
    split = model.block_split_
    train_rows = split.count_rows(split.train_blocks)
    validation_rows = split.count_rows(split.validation_blocks)
    peak = peak_rss_mb()
    print(
        f"streaming fit (statistics pass, 1 epoch on {train_rows:,} rows, validation "
        f"on {validation_rows:,}): {training_seconds:.1f} s"
    )
    print(
        f"train loss {record.train_loss:.4f}, validation loss "
        f"{record.validation_loss:.4f}, validation R² {record.metrics['r2']:.4f}"
    )
    print(f"peak RSS of the process: {peak:.0f} MiB (limit {args.max_rss_mb:.0f} MiB)")
    return 0 if peak <= args.max_rss_mb else 1


if __name__ == "__main__":
    sys.exit(main())
