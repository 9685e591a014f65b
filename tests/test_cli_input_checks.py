"""Bad ``mlpkit train`` input: one line that names the option as typed, exit 2."""

import argparse
import inspect
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpkit.cli import main
from mlpkit.cli import commands as cli_commands
from mlpkit.cli import parser as cli_parser
from mlpkit.cli import train_options
from mlpkit.cli.option_names import SETTING_OPTIONS, error_message
from mlpkit.errors import DataError, ParameterError
from mlpkit.model import MLP

SRC = Path(__file__).resolve().parents[1] / "src"
FAST = ["--hidden", "3", "--epochs", "1", "--batch-size", "16", "--quiet"]
N_ROWS = 30


def run_cli(capsys, *args):
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def error_lines(err):
    return [line for line in err.strip().splitlines() if line]


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=N_ROWS),
            "x2": rng.normal(size=N_ROWS),
            "price": rng.normal(size=N_ROWS),
            "label": ["a", "b", "c"] * (N_ROWS // 3),
            "colour": ["red", "blue"] * (N_ROWS // 2),
            "weight": rng.uniform(0.5, 2.0, N_ROWS),
        }
    )
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def train(capsys, data, tmp_path, *options, target=("label",)):
    targets = []
    for name in target:
        targets += ["--target", name]
    return run_cli(
        capsys, "train", data, *targets, *FAST, *options, "-o", tmp_path / "m.mlpkit"
    )


# Option names in messages


def test_setting_options_cover_mlp_settings():
    assert set(SETTING_OPTIONS) == set(inspect.signature(MLP).parameters)


def test_setting_options_exist_in_train_help(capsys):
    status, out, _ = run_cli(capsys, "train", "--help")

    assert status == 0
    for option in SETTING_OPTIONS.values():
        assert option in out


@pytest.mark.parametrize(
    "options, option, setting",
    [
        (["--epochs", "0"], "--epochs", "max_epochs"),
        (["--batch-size", "0"], "--batch-size", "batch_size"),
        (["--patience", "0"], "--patience", " patience="),
        (
            [
                "--learning-rate-schedule",
                "reduce_on_plateau",
                "--plateau-patience",
                "20",
            ],
            "--plateau-patience",
            "plateau_patience",
        ),
        (["--loss", "huber", "--task", "classification"], "--task", " task="),
        (
            ["--maxout-pieces", "1", "--activation", "maxout"],
            "--maxout-pieces",
            "maxout_pieces",
        ),
    ],
)
def test_setting_error_names_option(options, option, setting, data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, *options)

    assert status == 2
    assert option in err
    assert setting not in err
    assert len(error_lines(err)) == 1


def test_error_message_uses_parameter_attribute():
    error = ParameterError("must be at least 0; received: -1.0")
    error.parameter = "l2"

    assert error_message(error) == "--l2: must be at least 0; received: -1.0"


def test_error_message_falls_back_to_opening_name():
    error = ParameterError("seed must be an integer; received: seed='x'")

    assert error_message(error) == "--seed must be an integer; received: --seed=x"


def test_error_message_keeps_word_in_data_error():
    error = DataError("loss became NaN in epoch 3")

    assert error_message(error) == "loss became NaN in epoch 3"


def test_convergence_warning_names_epochs(data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, "--patience", "50")
    warning_lines = [line for line in err.splitlines() if "before the" in line]

    assert status == 0
    assert len(warning_lines) == 1
    assert "--epochs" in warning_lines[0]
    assert "max_epochs" not in warning_lines[0]


# Several target columns


def test_several_text_targets_give_cli_advice(data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, target=("label", "colour"))

    assert status == 2
    assert "--task multilabel" in err
    assert "task=" not in err
    assert "task='classification'" not in err
    assert len(error_lines(err)) == 1


def test_several_numeric_targets_train(data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, target=("price", "x2"))

    assert status == 0
    assert "error" not in err


# Seeds


@pytest.mark.parametrize("seed", ["-1", str(2**32), "99999999999", "1.5", "x"])
def test_invalid_seed_exits_two(seed, data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, "--seed", seed)

    assert status == 2
    assert "--seed" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("text, seed", [("0", 0), (str(2**32 - 1), 2**32 - 1)])
def test_parse_seed_bounds(text, seed):
    assert cli_parser.parse_seed(text) == seed


def test_explain_seed_checked(capsys):
    status, _, err = run_cli(capsys, "explain", "--seed", "-5")

    assert status == 2
    assert "--seed" in err


# Held-out fractions


def test_test_fraction_leaving_too_few_rows(data, tmp_path, capsys):
    # ceil(0.95 · 30) = 29 test rows leave 1 for training.
    status, _, err = train(capsys, data, tmp_path, "--test-fraction", "0.95")

    assert status == 2
    assert "--test-fraction" in err
    assert "leaves 1 of the 30 rows" in err
    assert len(error_lines(err)) == 1


def test_test_fraction_leaving_fewer_rows_than_classes(data, tmp_path, capsys):
    # ceil(0.9 · 30) = 27 test rows leave 3, but the validation row leaves 2 for
    # the 3 classes of "label".
    status, _, err = train(capsys, data, tmp_path, "--test-fraction", "0.9")

    assert status == 2
    assert "--validation-fraction" in err
    assert "3 classes" in err
    assert len(error_lines(err)) == 1


def test_validation_fraction_leaving_no_rows(data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, "--validation-fraction", "0.99")

    assert status == 2
    assert "--validation-fraction" in err
    assert "Traceback" not in err
    assert len(error_lines(err)) == 1


def test_autoencoder_fraction_leaving_too_few_rows(data, tmp_path, capsys):
    status, _, err = train(
        capsys, data, tmp_path, "--autoencoder", "--test-fraction", "0.97"
    )

    assert status == 2
    assert "--test-fraction" in err


def test_regression_keeps_two_training_rows(data, tmp_path, capsys):
    # ceil(0.9 · 30) = 27 test rows, then no validation: 3 training rows.
    status, _, err = train(
        capsys,
        data,
        tmp_path,
        "--test-fraction",
        "0.9",
        "--validation-fraction",
        "0",
        target=("price",),
    )

    assert status == 0
    assert "error" not in err


@pytest.mark.parametrize(
    "n_rows, n_classes, test_fraction, validation_fraction, valid",
    [
        (10, 0, 0.8, 0.0, True),
        (10, 0, 0.85, 0.0, False),
        (10, 0, 0.0, 0.8, True),
        (10, 0, 0.0, 0.85, False),
        (10, 4, 0.6, 0.0, True),
        (10, 4, 0.7, 0.0, False),
    ],
)
def test_check_training_rows_bounds(
    n_rows, n_classes, test_fraction, validation_fraction, valid
):
    def check():
        cli_commands.check_training_rows(
            n_rows, n_classes, test_fraction, validation_fraction
        )

    if valid:
        check()
    else:
        with pytest.raises(ParameterError):
            check()


# Infinity and NaN in float options

FLOAT_OPTIONS = [
    "--learning-rate",
    "--momentum",
    "--tolerance",
    "--beta1",
    "--beta2",
    "--epsilon",
    "--rho",
    "--weight-decay",
    "--power-t",
    "--gamma",
    "--min-learning-rate",
    "--plateau-factor",
    "--huber-delta",
    "--quantile",
    "--l1",
    "--l2",
    "--input-dropout",
    "--hidden-dropout",
    "--max-norm",
]


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
@pytest.mark.parametrize("option", FLOAT_OPTIONS)
def test_float_option_rejects_non_finite(option, value, data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, f"{option}={value}")

    assert status == 2
    assert f"argument {option}" in err
    assert "inf]" not in err


def test_learning_rate_inf_asks_for_finite_number(data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, "--learning-rate", "inf")

    assert status == 2
    assert "a positive finite number" in err


@pytest.mark.parametrize(
    "kind, text",
    [
        ("positive", "0"),
        ("positive", "-1e-3"),
        ("non_negative", "-0.5"),
        ("unit_closed", "1.01"),
        ("unit_open", "1"),
        ("unit_open", "0"),
        ("fraction", "1"),
    ],
)
def test_number_parsers_reject_bounds(kind, text):
    parse = {
        "positive": train_options.POSITIVE,
        "non_negative": train_options.NON_NEGATIVE,
        "unit_closed": train_options.UNIT_CLOSED,
        "unit_open": train_options.UNIT_OPEN,
        "fraction": train_options.FRACTION,
    }[kind]
    with pytest.raises(argparse.ArgumentTypeError):
        parse(text)


@pytest.mark.parametrize(
    "kind, text, value",
    [
        ("positive", "1e-9", 1e-9),
        ("non_negative", "0", 0.0),
        ("unit_closed", "1", 1.0),
        ("unit_closed", "0", 0.0),
        ("fraction", "0", 0.0),
    ],
)
def test_number_parsers_accept_bounds(kind, text, value):
    parse = {
        "positive": train_options.POSITIVE,
        "non_negative": train_options.NON_NEGATIVE,
        "unit_closed": train_options.UNIT_CLOSED,
        "fraction": train_options.FRACTION,
    }[kind]

    assert math.isclose(parse(text), value)


# Separators


@pytest.mark.parametrize(
    "file_separator, suggestion", [(";", "--sep ';'"), ("\t", "--sep tab")]
)
def test_wrong_separator_suggests_header_one(
    file_separator, suggestion, data, tmp_path, capsys
):
    other = tmp_path / "other.csv"
    pd.read_csv(data).to_csv(other, sep=file_separator, index=False)
    status, _, err = run_cli(
        capsys, "train", other, "--sep", ",", "--target", "label", *FAST
    )

    assert status == 2
    assert "one column" in err
    assert suggestion in err
    assert len(error_lines(err)) == 1


def test_decimal_commas_with_wrong_separator(tmp_path, capsys):
    path = tmp_path / "decimal.csv"
    path.write_text("a;b;y\n1,5;2;x\n2,5;3;z\n1,0;4;x\n", encoding="utf-8")
    status, _, err = run_cli(capsys, "train", path, "--sep", ",", "--target", "y")

    assert status == 2
    assert "--sep ';'" in err


# Ctrl-C while the command is importing

IMPORT_INTERRUPT = textwrap.dedent(
    """
    import builtins
    import sys

    real_import = builtins.__import__

    def interrupted_import(name, *args, **kwargs):
        if name == "numpy" or name.startswith("numpy."):
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    builtins.__import__ = interrupted_import
    # As the console script does.
    from mlpkit.cli import main
    sys.exit(main())
    """
)


def test_interrupt_during_import_exits_130(tmp_path):
    env = dict(os.environ)
    paths = [str(SRC), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_INTERRUPT, "info", "model.mlpkit"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 130
    assert "Traceback" not in result.stderr
    assert "KeyboardInterrupt" not in result.stderr


# Options that the optimizer ignores


@pytest.mark.parametrize(
    "optimizer, options, option",
    [
        ("adam", ["--momentum", "0.5"], "--momentum"),
        ("adam", ["--nesterov"], "--nesterov"),
        ("rmsprop", ["--momentum", "0.5"], "--momentum"),
        ("sgd", ["--beta1", "0.8"], "--beta1"),
        ("sgd", ["--beta2", "0.99"], "--beta2"),
        ("sgd", ["--epsilon", "1e-7"], "--epsilon"),
        ("adam", ["--rho", "0.9"], "--rho"),
        ("adam", ["--weight-decay", "0.1"], "--weight-decay"),
        ("rmsprop", ["--weight-decay", "0.1"], "--weight-decay"),
        ("lbfgs", ["--learning-rate", "0.1"], "--learning-rate"),
        ("lbfgs", ["--batch-size", "8"], "--batch-size"),
    ],
)
def test_ignored_optimizer_option_warns(
    optimizer, options, option, data, tmp_path, capsys
):
    status, _, err = train(
        capsys, data, tmp_path, "--optimizer", optimizer, *options
    )
    warnings = [line for line in err.splitlines() if f"ignores {option}," in line]

    assert status == 0
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: ")
    assert f"--optimizer {optimizer}" in warnings[0]


@pytest.mark.parametrize(
    "optimizer, options",
    [
        ("sgd", ["--momentum", "0.5", "--nesterov"]),
        ("adam", ["--beta1", "0.8", "--epsilon", "1e-7"]),
        ("adamw", ["--weight-decay", "0.1"]),
        ("rmsprop", ["--rho", "0.8"]),
        ("adam", []),
    ],
)
def test_used_optimizer_option_no_warning(optimizer, options, data, tmp_path, capsys):
    status, _, err = train(
        capsys, data, tmp_path, "--optimizer", optimizer, *options
    )

    assert status == 0
    assert "ignores" not in err


# Target names


@pytest.mark.parametrize(
    "targets", [["--target", "price", "--target", "price"], ["--target", "price,price"]]
)
def test_duplicate_target_rejected(targets, data, tmp_path, capsys):
    status, _, err = run_cli(
        capsys, "train", data, *targets, *FAST, "-o", tmp_path / "m.mlpkit"
    )

    assert status == 2
    assert "--target price given twice" in err
    assert len(error_lines(err)) == 1


@pytest.mark.parametrize("typed, column", [("X1", "x1"), ("PRICE", "price")])
def test_target_case_suggests_column(typed, column, data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, target=(typed,))

    assert status == 2
    assert f"did you mean '{column}'" in err


def test_weight_column_case_suggests_column(data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, "--weight-column", "Weight")

    assert status == 2
    assert "did you mean 'weight'" in err
