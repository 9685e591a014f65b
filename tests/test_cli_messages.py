"""What the ``mlpkit`` commands print: one-line usage errors, warnings about
ignored options, values and option names as typed, --debug and --quiet."""

import numpy as np
import pandas as pd
import pytest

from mlpkit.cli import main
from mlpkit.cli import commands as cli_commands
from mlpkit.cli import parser as cli_parser
from mlpkit.cli import program
from mlpkit.cli.ignored_options import option_conditions
from mlpkit.cli.option_names import rewrite_setting_names
from mlpkit.cli.train_options import RecordGiven
from mlpkit.model import MLP

FAST = ["--hidden", "3", "--epochs", "2", "--batch-size", "16", "--quiet"]
N_ROWS = 30


def run_cli(capsys, *args):
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def lines(text):
    return [line for line in text.strip().splitlines() if line]


def warning_lines(err):
    return [line for line in lines(err) if line.startswith("warning: ")]


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=N_ROWS),
            "x2": rng.normal(size=N_ROWS),
            "price": rng.normal(size=N_ROWS),
            "label": ["a", "b", "c"] * (N_ROWS // 3),
            "weight": rng.uniform(0.5, 2.0, N_ROWS),
        }
    )
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def train(capsys, data, tmp_path, *options, target="label", fast=FAST):
    output = tmp_path / "m.mlpkit"
    return run_cli(
        capsys, "train", data, "--target", target, *fast, *options, "-o", output
    )


@pytest.fixture
def classifier(data, tmp_path, capsys):
    status, _, _ = train(capsys, data, tmp_path)
    assert status == 0
    return tmp_path / "m.mlpkit"


@pytest.fixture
def autoencoder(data, tmp_path, capsys):
    path = tmp_path / "ae.mlpkit"
    status, _, _ = run_cli(
        capsys, "train", data, "--autoencoder", "--target", "label", *FAST, "-o", path
    )
    assert status == 0
    return path


# Usage errors


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["train", "iris", "--epochs", "abc"],
            "error: argument --epochs: invalid int value: 'abc'; run 'mlpkit "
            "train --help' for the options",
        ),
        (
            ["train", "iris", "--learning-rate", "0"],
            "error: argument --learning-rate: invalid value '0'; pass a positive "
            "finite number; run 'mlpkit train --help' for the options",
        ),
        (
            ["train", "iris", "--test-fraction", "1"],
            "error: argument --test-fraction: invalid fraction '1'",
        ),
        (["train", "iris", "--seed", "-1"], "error: argument --seed: invalid seed"),
        (["train", "iris", "--hidden", "0"], "error: argument --hidden: invalid"),
        (
            ["anomalies", "a.mlpkit", "b.csv", "--top", "0"],
            "error: argument --top: invalid count '0'",
        ),
        (
            ["train", "iris", "--no-such-option"],
            "error: unrecognized arguments: --no-such-option; run 'mlpkit train "
            "--help' for the options",
        ),
        (["predict", "a.mlpkit"], "error: the following arguments are required"),
        ([], "error: the following arguments are required: COMMAND"),
    ],
)
def test_usage_error_one_line(capsys, argv, expected):
    status, out, err = run_cli(capsys, *argv)

    assert status == 2
    assert out == ""
    assert len(lines(err)) == 1
    assert err.startswith(expected)
    assert "usage:" not in err


@pytest.mark.parametrize(
    "argv, command",
    [
        (["train", "--epochs", "x"], "mlpkit train"),
        (["explain", "--steps", "x"], "mlpkit explain"),
        (["importance", "m", "d", "--repeats", "0"], "mlpkit importance"),
        (["--no-such-option"], "mlpkit"),
    ],
)
def test_usage_error_names_command_help(capsys, argv, command):
    _, _, err = run_cli(capsys, *argv)

    assert err.strip().endswith(f"; run '{command} --help' for the options")


def test_help_still_exits_zero(capsys):
    status, out, _ = run_cli(capsys, "explain", "--help")

    assert status == 0
    assert "usage: mlpkit explain" in out


# Options that other options make ineffective


@pytest.mark.parametrize(
    "options, expected",
    [
        (
            ["--maxout-pieces", "3"],
            "--activation relu ignores --maxout-pieces, which only maxout uses",
        ),
        (
            ["--step-size", "3"],
            "--learning-rate-schedule constant ignores --step-size, which only step "
            "uses",
        ),
        (
            ["--learning-rate-schedule", "cosine", "--gamma", "0.5"],
            "--learning-rate-schedule cosine ignores --gamma, which only step and "
            "exponential use",
        ),
        (["--power-t", "0.3"], "ignores --power-t, which only inverse_scaling uses"),
        (["--decay-epochs", "3"], "ignores --decay-epochs, which only cosine uses"),
        (
            ["--min-learning-rate", "0.0001"],
            "ignores --min-learning-rate, which only cosine and reduce_on_plateau use",
        ),
        (["--plateau-factor", "0.5"], "ignores --plateau-factor"),
        (["--plateau-patience", "1"], "ignores --plateau-patience"),
        (
            ["--huber-delta", "2"],
            "--loss squared_error ignores --huber-delta, which only huber uses",
        ),
        (
            ["--loss", "huber", "--quantile", "0.9"],
            "--loss huber ignores --quantile, which only quantile uses",
        ),
        (
            ["--block-rows", "100"],
            "training in memory ignores --block-rows, which only streaming uses",
        ),
        (
            ["--momentum", "0.5"],
            "--optimizer adam ignores --momentum, which only sgd uses",
        ),
    ],
)
def test_ignored_option_warns(data, tmp_path, capsys, options, expected):
    status, _, err = train(capsys, data, tmp_path, *options, target="price")
    warnings = warning_lines(err)

    assert status == 0
    assert sum(expected in line for line in warnings) == 1


@pytest.mark.parametrize(
    "options",
    [
        ["--activation", "maxout", "--maxout-pieces", "3"],
        ["--learning-rate-schedule", "step", "--step-size", "2", "--gamma", "0.5"],
        ["--learning-rate-schedule", "exponential", "--gamma", "0.5"],
        ["--learning-rate-schedule", "cosine", "--decay-epochs", "2"],
        ["--learning-rate-schedule", "inverse_scaling", "--power-t", "0.3"],
        ["--loss", "huber", "--huber-delta", "2"],
        ["--loss", "quantile", "--quantile", "0.9"],
        ["--streaming", "always", "--block-rows", "4", "--batch-size", "4"],
    ],
)
def test_used_option_no_warning(data, tmp_path, capsys, options):
    status, _, err = train(capsys, data, tmp_path, *options, target="price")

    assert status == 0
    assert "ignores" not in err


def test_autoencoder_warns_supervised_options(data, tmp_path, capsys):
    status, _, err = run_cli(
        capsys,
        "train",
        data,
        "--autoencoder",
        "--target",
        "label",
        *FAST,
        "--task",
        "regression",
        "--l2",
        "0.01",
        "-o",
        tmp_path / "ae.mlpkit",
    )
    warnings = warning_lines(err)

    assert status == 0
    assert (
        "warning: --autoencoder ignores --task, which only supervised training uses"
        in warnings
    )
    assert (
        "warning: --autoencoder ignores --l2, which only supervised training uses"
        in warnings
    )


def test_autoencoder_uses_its_options(data, tmp_path, capsys):
    status, _, err = run_cli(
        capsys,
        "train",
        data,
        "--autoencoder",
        "--target",
        "label",
        *FAST,
        "--optimizer",
        "sgd",
        "--momentum",
        "0.5",
        "--validation-fraction",
        "0.2",
        "-o",
        tmp_path / "ae.mlpkit",
    )

    assert status == 0
    assert "ignores" not in err


def test_autoencoder_rejects_weight_column(data, tmp_path, capsys):
    status, _, err = run_cli(
        capsys,
        "train",
        data,
        "--autoencoder",
        "--weight-column",
        "weight",
        *FAST,
        "-o",
        tmp_path / "ae.mlpkit",
    )

    assert status == 2
    assert len(lines(err)) == 1
    assert err.startswith("error: --weight-column weighs rows")


def test_conditional_options_record_given():
    train_parser = cli_parser.build_parser().command_parsers["train"]
    actions = {}
    for action in train_parser._actions:
        for option in action.option_strings:
            actions[option] = action

    for option in option_conditions():
        assert option in actions, option
        assert isinstance(actions[option], RecordGiven), option


# Values and option names as typed


def test_weight_column_empty_cell(data, tmp_path, capsys):
    frame = pd.read_csv(data)
    frame.loc[6, "weight"] = np.nan
    frame.to_csv(data, index=False)

    status, _, err = train(capsys, data, tmp_path, "--weight-column", "weight")

    assert status == 2
    assert "has no value in data row 7" in err
    assert "np." not in err


def test_weight_column_infinite_value(data, tmp_path, capsys):
    frame = pd.read_csv(data)
    frame["weight"] = frame["weight"].astype(object)
    frame.loc[2, "weight"] = "inf"
    frame.to_csv(data, index=False)

    status, _, err = train(capsys, data, tmp_path, "--weight-column", "weight")

    assert status == 2
    assert "(inf in data row 3)" in err


def test_hidden_dropout_value_as_typed(data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, "--hidden-dropout", "0.3,0.2,0.1")

    assert status == 2
    assert "received: --hidden-dropout=0.3,0.2,0.1" in err
    assert "(0.3" not in err


def test_beta_error_names_both_options(data, tmp_path, capsys):
    status, _, err = train(capsys, data, tmp_path, "--beta1", "1", "--beta2", "1")

    assert status == 2
    assert "--beta1 and --beta2 must be below 1" in err


@pytest.mark.parametrize(
    "message, expected",
    [
        ("received: hidden_layers=[100]", "received: --hidden=100"),
        ("received: hidden_layers=(64, 32)", "received: --hidden=64,32"),
        ("received: hidden_layers=()", "received: --hidden=none"),
        ("received: quantile=np.float64(1.5)", "received: --quantile=1.5"),
        ("value np.float64(nan) in row 2", "value nan in row 2"),
        ("l2 and beta2 must be finite", "--l2 and --beta2 must be finite"),
    ],
)
def test_rewrite_values_as_typed(message, expected):
    assert rewrite_setting_names(message) == expected


def test_importance_missing_target_quoted(classifier, data, tmp_path, capsys):
    frame = pd.read_csv(data).drop(columns=["label"])
    rows = tmp_path / "rows.csv"
    frame.to_csv(rows, index=False)

    status, _, err = run_cli(capsys, "importance", classifier, rows)

    assert status == 2
    assert "lacks the target column(s) 'label'" in err
    assert "['label']" not in err


@pytest.mark.parametrize(
    "options, expected",
    [
        (
            ["--row", "31"],
            "error: --row must be between 1 and 30, the number of data rows in",
        ),
        (["--row", "31"], "received: --row=31"),
    ],
)
def test_explain_error_names_option(classifier, data, capsys, options, expected):
    status, _, err = run_cli(capsys, "explain", classifier, data, *options)

    assert status == 2
    assert expected in err


def test_explain_steps_capped(capsys):
    too_many = cli_parser.MAX_EXPLAIN_STEPS + 1
    status, _, err = run_cli(capsys, "explain", "--steps", too_many)

    assert status == 2
    assert f"pass an integer from 1 to {cli_parser.MAX_EXPLAIN_STEPS}" in err


def test_explain_steps_limit_accepted():
    limit = str(cli_parser.MAX_EXPLAIN_STEPS)

    assert cli_parser.parse_explain_steps(limit) == cli_parser.MAX_EXPLAIN_STEPS


def test_info_lists_option_beside_setting(classifier, capsys):
    status, out, _ = run_cli(capsys, "info", classifier)
    epochs_rows = [line for line in out.splitlines() if "max_epochs" in line]

    assert status == 0
    assert len(epochs_rows) == 1
    assert "--epochs" in epochs_rows[0]


def test_info_marks_defaults_and_unused_settings(classifier, capsys):
    status, out, _ = run_cli(capsys, "info", classifier)
    epsilon_rows = [line for line in out.splitlines() if "--epsilon" in line]
    momentum_rows = [line for line in out.splitlines() if "--momentum" in line]

    assert status == 0
    assert len(epsilon_rows) == 1
    assert "1e-08 (adam's default)" in epsilon_rows[0]
    assert len(momentum_rows) == 1
    assert "not used by adam" in momentum_rows[0]


def test_anomalies_rejects_classifier_with_cli_advice(classifier, data, capsys):
    status, _, err = run_cli(capsys, "anomalies", classifier, data)

    assert status == 2
    assert "needs an autoencoder; train one with: mlpkit train DATA" in err
    assert "MLP.load" not in err


def test_predict_rejects_autoencoder_with_cli_advice(autoencoder, data, capsys):
    status, _, err = run_cli(capsys, "predict", autoencoder, data)

    assert status == 2
    assert f"mlpkit anomalies {autoencoder} DATA" in err
    assert "Autoencoder.load" not in err


# --debug


def test_debug_input_error_exits_two(classifier, data, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    pd.read_csv(data).drop(columns=["label"]).to_csv(rows, index=False)

    status, _, err = run_cli(capsys, "--debug", "evaluate", classifier, rows)

    assert status == 2
    assert "Traceback" in err
    assert lines(err)[-1].startswith("error: ")


def test_debug_bug_propagates(monkeypatch):
    def broken(args, out, err):
        raise RuntimeError("a bug")

    monkeypatch.setitem(program.COMMANDS, "info", broken)

    with pytest.raises(RuntimeError, match="a bug"):
        main(["--debug", "info", "m.mlpkit"])


# --hidden


def test_hidden_empty_rejected(capsys):
    status, _, err = run_cli(capsys, "train", "iris", "--hidden", "")

    assert status == 2
    assert "argument --hidden: empty value" in err
    assert "or none for no hidden layer" in err


def test_hidden_none_trains_without_hidden_layer(data, tmp_path, capsys):
    fast = ["--epochs", "2", "--batch-size", "16", "--quiet"]
    status, _, _ = train(capsys, data, tmp_path, "--hidden", "none", fast=fast)
    model = MLP.load(tmp_path / "m.mlpkit")

    assert status == 0
    assert model.hidden_layers == ()


# --quiet


def test_quiet_train_keeps_results(data, tmp_path, capsys):
    status, out, _ = train(capsys, data, tmp_path)

    assert status == 0
    assert "held-out metrics" in out
    assert "best epoch: " in out
    assert "converged: " in out
    assert "saved model to " in out


def test_quiet_hides_progress_bar(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_commands, "stderr_is_terminal", lambda: True)

    status, _, err = train(capsys, data, tmp_path)

    assert status == 0
    assert "epoch 2/2" not in err


def test_quiet_hides_fold_progress(data, tmp_path, capsys):
    status, out, err = train(capsys, data, tmp_path, "--folds", "2")

    assert status == 0
    assert "fold 1 of 2" not in err
    assert "2-fold cross-validation" in out


def test_quiet_predict_names_output(classifier, data, tmp_path, capsys):
    output = tmp_path / "predictions.csv"
    status, _, err = run_cli(
        capsys, "predict", classifier, data, "--output", output, "--quiet"
    )

    assert status == 0
    assert f"wrote {N_ROWS} predictions to {output}" in err


def test_quiet_help_names_hidden_output(capsys):
    _, out, _ = run_cli(capsys, "train", "--help")
    help_text = " ".join(out.split())

    assert "--quiet hide the progress bar and the progress lines" in help_text


# --learning-rate


def test_learning_rate_default_none():
    args = cli_parser.build_parser().parse_args(["train", "iris"])

    assert args.learning_rate is None


def test_learning_rate_help_names_optimizer_default(capsys):
    _, out, _ = run_cli(capsys, "train", "--help")
    help_text = " ".join(out.split())

    assert "default: the optimizer's own, e.g. 0.001 for adam" in help_text
    assert "(default: None)" not in help_text


def test_learning_rate_default_follows_optimizer(data, tmp_path, capsys):
    status, _, _ = train(capsys, data, tmp_path, "--optimizer", "adadelta")
    model = MLP.load(tmp_path / "m.mlpkit")

    assert status == 0
    assert model.get_settings()["learning_rate"] == 1.0


def test_constant_column_warned_once(tmp_path, capsys):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=N_ROWS),
            "flat": np.zeros(N_ROWS),
            "label": ["a", "b", "c"] * (N_ROWS // 3),
        }
    )
    path = tmp_path / "flat.csv"
    frame.to_csv(path, index=False)

    status, _, err = train(capsys, path, tmp_path)

    assert status == 0
    constant_warnings = [line for line in warning_lines(err) if "'flat'" in line]
    assert len(constant_warnings) == 1


@pytest.mark.parametrize(
    "option, value",
    [
        ("--step-size", "0"),
        ("--decay-epochs", "-1"),
        ("--plateau-patience", "-1"),
        ("--block-rows", "0"),
        ("--maxout-pieces", "1"),
    ],
)
def test_count_option_range_checked_alone(capsys, data, tmp_path, option, value):
    status, _, err = train(capsys, data, tmp_path, option, value)

    assert status == 2
    assert lines(err) == [line for line in lines(err) if line.startswith("error: ")]
    assert f"argument {option}: invalid" in err


def test_lbfgs_summary_names_its_own_stop(capsys, data, tmp_path):
    fast = ["--hidden", "3", "--epochs", "50", "--quiet"]
    status, out, _ = train(
        capsys, data, tmp_path, "--optimizer", "lbfgs", fast=fast
    )

    assert status == 0
    assert "L-BFGS keeps the weights of its last iteration" in out
    converged = [line for line in lines(out) if line.startswith("converged: ")]
    assert len(converged) == 1
    assert "L-BFGS" in converged[0]
    assert "validation loss stopped improving" not in converged[0]
