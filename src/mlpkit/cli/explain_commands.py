"""The ``explain`` and ``plot`` commands: a training step's numbers, and PNG plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ..errors import ParameterError
from ..model import MLP
from ..explain import (
    DEMO_LEARNING_RATE,
    DEMO_SEED,
    explain_row,
    explain_xor,
    render_explanation,
    split_model_data,
)
from ..plotting import (
    check_png_path,
    plot_model,
    plot_model_network,
    require_matplotlib,
    save_figure,
)
from .commands import read_table, translate_write_errors
from .display import print_text, reported_warnings
from .model_loading import load_mlp
from .output_paths import check_output_paths


def run_explain(args: argparse.Namespace, out: Console, err: Console) -> None:
    demo_options = vars(args)
    if args.model is None:
        explanation = explain_xor(
            args.steps,
            seed=demo_options.get("seed", DEMO_SEED),
            learning_rate=demo_options.get("learning_rate", DEMO_LEARNING_RATE),
        )
    else:
        if args.data is None:
            raise ParameterError(
                "explain MODEL needs DATA too, the CSV file or dataset with the row "
                "to explain, such as: mlpkit explain model.mlpkit data.csv --row 3"
            )
        if "seed" in demo_options or "learning_rate" in demo_options:
            raise ParameterError(
                "--seed and --learning-rate set up the XOR demo; a saved model "
                "steps with its own settings, so leave them out"
            )
        model = load_mlp(args.model, "explain")
        frame, source, _ = read_table(args.data)
        with reported_warnings(err):
            explanation = explain_row(model, frame, args.row, args.steps, source)
    out.print(render_explanation(explanation))


def default_plot_path(model: str, network: bool) -> Path:
    """Return the PNG beside ``model``: ``NAME-network.png`` or ``NAME-plot.png``."""
    path = Path(model)
    suffix = "-network.png" if network else "-plot.png"
    return path.with_name(path.stem + suffix)


def check_plot_output(path: Path) -> Path:
    """Return ``path`` after checking that matplotlib and the PNG's location work."""
    require_matplotlib()
    return check_png_path(path)


def plot_output_and_model(
    args: argparse.Namespace, default: Path
) -> tuple[Path, MLP]:
    """Check the PNG that ``plot`` writes (``--output`` or ``default``) and load MODEL.

    The output is checked before the model is loaded, so that a path that cannot
    be written fails at once.
    """
    output = args.output or default
    check_output_paths(
        {"--output" if args.output else "output": output},
        {"the model file": args.model, "the data file": args.data},
        contents={"--output": "the plot"},
    )
    return check_plot_output(output), load_mlp(args.model, "plot")


def run_plot(args: argparse.Namespace, out: Console, err: Console) -> None:
    if args.network and args.data is not None:
        raise ParameterError(
            "--network draws the model alone; leave out DATA, or plot the results "
            "on DATA without --network"
        )
    default = default_plot_path(args.model, args.network)
    output, model = plot_output_and_model(args, default)

    if args.network:
        figure = plot_model_network(model)
        description = "the network"
    else:
        features = target = source = None
        if args.data is not None:
            frame, source, _ = read_table(args.data)
            features, target = split_model_data(model, frame, source)
        with reported_warnings(err):
            figure = plot_model(model, features, target, source)
        description = "learning curves"
        if features is not None:
            description = "learning curves and results"
    with translate_write_errors(output):
        save_figure(figure, output)
    print_text(out, f"wrote {description} to {output}")
