"""Streaming from files: sources, one-pass statistics, block shuffling and training."""

import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpkit.blocks import (
    DEFAULT_BLOCK_ROWS,
    ShuffledBatches,
    SourceBlocks,
    choose_block_rows,
    split_blocks,
)
from mlpkit.data import read_csv
from mlpkit.errors import (
    ConvergenceWarning,
    DataError,
    ParameterError,
    TrainingDivergedError,
)
from mlpkit.metrics import task_metrics
from mlpkit.model import MLP
from mlpkit.moments import RunningMoments
from mlpkit.preprocessing import TabularPreprocessor
from mlpkit.sources import CsvSource, NpySource, open_source
from mlpkit.streaming import fit_streaming
from mlpkit.streaming_scores import StreamingScores
from mlpkit.streaming_statistics import learn_statistics
from mlpkit.tasks import TargetEncoder

N_ROWS = 300


def mixed_frame(seed: int = 0) -> pd.DataFrame:
    """Return numeric, categorical and missing inputs with several kinds of target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, size=N_ROWS),
            "rooms": rng.integers(1, 6, size=N_ROWS),
            "color": rng.choice(["red", "green", "blue"], size=N_ROWS),
            # Numbers in the first rows and text later: a categorical column whose
            # early blocks contain only numbers.
            "code": ["1"] * 40 + list(rng.choice(["1", "2.0", "A7"], size=N_ROWS - 40)),
            "constant": np.full(N_ROWS, 3.5),
        }
    )
    frame.loc[::9, "age"] = np.nan
    frame.loc[::13, "color"] = None
    frame["label"] = np.where(frame["age"].fillna(40) > 40, "yes", "no")
    frame["grade"] = rng.integers(0, 4, size=N_ROWS)
    frame["price"] = 2 * frame["rooms"] + rng.normal(size=N_ROWS)
    frame["cost"] = frame["rooms"] - rng.normal(size=N_ROWS)
    return frame


TARGETS = ["label", "grade", "price", "cost"]


def write_csv(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def write_linear_npy(tmp_path: Path, n_rows: int, n_features: int = 4) -> Path:
    """Write features and, in the last column, a noisy linear target."""
    rng = np.random.default_rng(1)
    features = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    target = features @ np.linspace(-2, 2, n_features, dtype=np.float32)
    target += 0.1 * rng.normal(size=n_rows).astype(np.float32)
    path = tmp_path / "data.npy"
    np.save(path, np.column_stack([features, target]))
    return path


def assert_configs_close(streamed: dict, in_memory: dict) -> None:
    assert streamed["standardize"] == in_memory["standardize"]
    assert [c["name"] for c in streamed["columns"]] == [
        c["name"] for c in in_memory["columns"]
    ]
    for got, expected in zip(streamed["columns"], in_memory["columns"]):
        assert got.keys() == expected.keys(), got["name"]
        for key, value in expected.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
            else:
                assert got[key] == value, (got["name"], key)


def all_blocks(n_rows: int, block_rows: int) -> range:
    return range(-(-n_rows // block_rows))


# Sources


def test_npy_source_blocks_rebuild_the_array(tmp_path):
    array = np.arange(40, dtype=np.float64).reshape(10, 4)
    np.save(tmp_path / "a.npy", array)
    source = NpySource(tmp_path / "a.npy", target=1)

    blocks = list(source.iter_blocks(3))

    assert source.n_rows == 10
    assert source.feature_names == ["x0", "x1", "x2"]
    assert source.target_names == ["target"]
    assert [block.n_rows for block in blocks] == [3, 3, 3, 1]
    features = pd.concat([block.features for block in blocks])
    target = pd.concat([block.target for block in blocks])
    np.testing.assert_array_equal(features.to_numpy(), array[:, [0, 2, 3]])
    np.testing.assert_array_equal(target.to_numpy()[:, 0], array[:, 1])
    assert list(features.index) == list(range(10))


def test_npy_source_reads_block_by_index(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(30.0).reshape(10, 3))
    source = NpySource(tmp_path / "a.npy", target=[-1, 0])

    block = source.read_block(2, 4)

    assert source.target_names == ["target_0", "target_1"]
    assert block.start == 8
    np.testing.assert_array_equal(block.target.to_numpy(), [[26.0, 24.0], [29.0, 27.0]])


@pytest.mark.parametrize(
    ("array", "target", "message"),
    [
        (np.zeros((4, 3)), 3, "out of range"),
        (np.zeros((4, 3)), [0, -3], "twice"),
        (np.zeros(4), -1, "expected 2-D"),
        (np.zeros((0, 3)), -1, "no rows"),
        (np.asfortranarray(np.zeros((4, 3))), -1, "Fortran order"),
        (np.zeros((4, 3), dtype=np.complex64), -1, "dtype complex64"),
        (np.zeros((4, 1)), -1, "no feature columns"),
    ],
)
def test_npy_source_rejects_invalid_file(tmp_path, array, target, message):
    np.save(tmp_path / "a.npy", array)

    with pytest.raises(DataError, match=message):
        NpySource(tmp_path / "a.npy", target=target)


def test_open_source_parses_npy_target_index(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((4, 3)))

    assert open_source(tmp_path / "a.npy", ["-3"]).target_columns == [0]
    assert open_source(tmp_path / "a.npy").target_columns == [2]
    with pytest.raises(DataError, match="given by index"):
        open_source(tmp_path / "a.npy", "price")


def test_csv_source_blocks_rebuild_the_file(tmp_path):
    path = write_csv(tmp_path, mixed_frame())
    source = CsvSource(path, ["price"])

    features = pd.concat([block.features for block in source.iter_blocks(64)])

    assert source.n_rows == N_ROWS
    expected = read_csv(path).drop(columns=["price"])
    pd.testing.assert_frame_equal(features, expected, check_dtype=False)


def test_csv_source_suggests_target_name(tmp_path):
    path = write_csv(tmp_path, mixed_frame())

    with pytest.raises(DataError, match="did you mean 'price'"):
        CsvSource(path, "prices")


def test_csv_source_rejects_invalid_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n" + "3,4\n" * 20 + "5,6,7\n")
    source = CsvSource(path, "b")

    with pytest.raises(DataError, match="not valid CSV"):
        list(source.iter_blocks(5))


# Statistics


def test_running_moments_equal_numpy_with_missing_values():
    values = np.random.default_rng(0).normal(5, 3, size=(100, 3))
    values[::3, 0] = np.nan
    values[:40, 1] = np.nan
    moments = RunningMoments(3)

    for start in range(0, 100, 16):
        moments.update(values[start : start + 16])

    np.testing.assert_array_equal(moments.count, [66, 60, 100])
    np.testing.assert_allclose(moments.mean, np.nanmean(values, axis=0), rtol=1e-12)
    np.testing.assert_allclose(moments.variance, np.nanvar(values, axis=0), rtol=1e-12)


def test_statistics_equal_in_memory_fit(tmp_path):
    path = write_csv(tmp_path, mixed_frame())
    source = CsvSource(path, ["label"])

    preprocessor, _ = learn_statistics(source, 16, all_blocks(N_ROWS, 16))

    in_memory = TabularPreprocessor().fit(read_csv(path).drop(columns=["label"]))
    assert_configs_close(preprocessor.to_config(), in_memory.to_config())


def test_statistics_use_training_blocks_only(tmp_path):
    frame = mixed_frame()
    path = write_csv(tmp_path, frame)
    split = split_blocks(N_ROWS, 16, validation_fraction=0.25, seed=3)

    preprocessor, _ = learn_statistics(
        CsvSource(path, ["label"]), 16, split.train_blocks, standardize=False
    )

    rows = np.concatenate(
        [np.arange(b * 16, min(b * 16 + 16, N_ROWS)) for b in split.train_blocks]
    )
    training_frame = read_csv(path).drop(columns=["label"]).iloc[rows]
    in_memory = TabularPreprocessor(standardize=False).fit(training_frame)
    assert_configs_close(preprocessor.to_config(), in_memory.to_config())


def test_statistics_of_npy_equal_in_memory_fit(tmp_path):
    array = np.random.default_rng(2).normal(size=(500, 4))
    array[::7, 1] = np.nan
    np.save(tmp_path / "a.npy", array)
    source = NpySource(tmp_path / "a.npy")

    preprocessor, encoder = learn_statistics(source, 64, all_blocks(500, 64))

    frame = pd.DataFrame(array[:, :3], columns=["x0", "x1", "x2"])
    in_memory = TabularPreprocessor().fit(frame)
    assert_configs_close(preprocessor.to_config(), in_memory.to_config())
    np.testing.assert_allclose(encoder.mean_, [array[:, 3].mean()], rtol=1e-12)
    np.testing.assert_allclose(encoder.scale_, [array[:, 3].std()], rtol=1e-12)


@pytest.mark.parametrize(
    ("targets", "task"),
    [
        (["label"], "auto"),
        (["grade"], "auto"),
        (["grade"], "regression"),
        (["price"], "auto"),
        (["price", "cost"], "auto"),
        (["rooms"], "classification"),
    ],
)
def test_target_encoder_equals_in_memory_fit(tmp_path, targets, task):
    path = write_csv(tmp_path, mixed_frame())
    source = CsvSource(path, targets)

    _, encoder = learn_statistics(source, 32, all_blocks(N_ROWS, 32), task=task)

    expected = TargetEncoder(task).fit(read_csv(path)[targets]).to_config()
    config = encoder.to_config()
    assert config.keys() == expected.keys()
    for key, value in expected.items():
        if key in ("mean", "scale"):
            np.testing.assert_allclose(config[key], value, rtol=1e-9)
        else:
            assert config[key] == value, key


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"age": "old"}, r"'old' at row 251 \(line 252 of .*\), but its other values"),
        ({"age": "inf"}, r"contains inf at row 251"),
        ({"label": None}, r"missing a value in row 251"),
    ],
)
def test_statistics_reject_invalid_cell(tmp_path, cells, message):
    frame = mixed_frame().astype({"age": object})
    for column, value in cells.items():
        frame.loc[250, column] = value
    path = write_csv(tmp_path, frame)

    with pytest.raises(DataError, match=message):
        learn_statistics(CsvSource(path, "label"), 32, [0])


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("age", "column 'age' .* has values as large as 1e\\+300"),
        ("price", "target column 'price' has values as large as 1e\\+300"),
    ],
)
def test_statistics_reject_overflowing_values(tmp_path, column, message):
    frame = mixed_frame()
    frame.loc[5, column] = 1e300
    path = write_csv(tmp_path, frame)

    with pytest.raises(DataError, match=message):
        learn_statistics(CsvSource(path, "price"), 32, all_blocks(N_ROWS, 32))


def test_statistics_reject_target_mixing_numbers_and_text(tmp_path):
    frame = mixed_frame().astype({"price": object})
    frame.loc[280, "price"] = "unknown"
    path = write_csv(tmp_path, frame)
    source = CsvSource(path, "price")

    with pytest.raises(DataError, match=r"'unknown' in row 281 \(line 282"):
        learn_statistics(source, 32, all_blocks(N_ROWS, 32))


def test_statistics_reject_empty_column(tmp_path):
    frame = mixed_frame()
    frame["empty"] = np.nan
    path = write_csv(tmp_path, frame)

    with pytest.raises(DataError, match="column 'empty' .* has no values"):
        learn_statistics(CsvSource(path, "label"), 32, [0, 1])


def test_statistics_reject_single_class(tmp_path):
    frame = mixed_frame()
    frame["label"] = "yes"
    path = write_csv(tmp_path, frame)

    with pytest.raises(DataError, match="single class"):
        learn_statistics(CsvSource(path, "label"), 32, all_blocks(N_ROWS, 32))


# Splitting and shuffling


def test_split_blocks_assigns_each_block_one_role():
    split = split_blocks(1000, 64, validation_fraction=0.2, test_fraction=0.25, seed=0)

    roles = np.concatenate(
        [split.train_blocks, split.validation_blocks, split.test_blocks]
    )
    assert split.n_blocks == 16
    assert sorted(roles) == list(range(16))
    assert split.test_blocks.size == 4
    assert split.validation_blocks.size == 3
    assert split.count_rows(np.arange(16)) == 1000


@pytest.mark.parametrize(
    ("n_rows", "batch_size", "expected"),
    [
        (10**8, 32, DEFAULT_BLOCK_ROWS),
        (1000, 32, 32),
        (100_000, 32, 1568),
        (100, 256, 256),
    ],
)
def test_choose_block_rows(n_rows, batch_size, expected):
    assert choose_block_rows(n_rows, batch_size) == expected


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"validation_fraction": 0.5, "test_fraction": 0.5}, DataError),
        ({"validation_fraction": 1.0}, ParameterError),
        ({"test_fraction": -0.1}, ParameterError),
    ],
)
def test_split_blocks_rejects_invalid_fractions(settings, error):
    with pytest.raises(error):
        split_blocks(100, 50, **settings)


def row_id_blocks(tmp_path: Path, n_rows: int, block_rows: int) -> SourceBlocks:
    """Return encoded blocks whose only input is the row's position in the file."""
    array = np.column_stack([np.arange(n_rows), np.zeros(n_rows)]).astype(np.float32)
    np.save(tmp_path / "ids.npy", array)
    source = NpySource(tmp_path / "ids.npy")
    preprocessor, encoder = learn_statistics(
        source,
        block_rows,
        all_blocks(n_rows, block_rows),
        standardize=False,
        task="regression",
    )
    return SourceBlocks(source, block_rows, preprocessor, encoder, np.float32)


def test_block_shuffling_visits_each_row_once_per_epoch(tmp_path):
    blocks = row_id_blocks(tmp_path, 103, 10)
    batches = ShuffledBatches(blocks, 4, np.random.default_rng(0))

    epochs = []
    for _ in range(2):
        ids = [inputs[:, 0].copy() for inputs, _ in batches.epoch(np.arange(11))]
        epochs.append(np.concatenate(ids))

    for ids in epochs:
        assert sorted(ids) == list(range(103))
    assert not np.array_equal(epochs[0], np.arange(103))
    assert not np.array_equal(epochs[0], epochs[1])


def test_block_shuffling_reuses_one_buffer(tmp_path):
    blocks = row_id_blocks(tmp_path, 50, 10)
    batches = ShuffledBatches(blocks, 4, np.random.default_rng(0))

    sizes = []
    for inputs, _ in batches.epoch(np.arange(5)):
        assert np.shares_memory(inputs, batches.inputs)
        sizes.append(len(inputs))

    assert sizes == [4, 4, 2] * 5


def test_block_shuffling_keeps_order_without_rng(tmp_path):
    blocks = row_id_blocks(tmp_path, 30, 10)
    batches = ShuffledBatches(blocks, 7, None)

    ids = [inputs[:, 0].copy() for inputs, _ in batches.epoch(np.array([2, 0]))]

    np.testing.assert_array_equal(
        np.concatenate(ids), np.r_[np.arange(20, 30), np.arange(10)]
    )


# Scores


LABELS = np.array(["a", "b"] * 25)
PREDICTED_LABELS = np.array(["a", "b", "b"] * 16 + ["a"] * 2)
# Two outputs, the first constant: R² is 1 for exact and 0 for wrong predictions.
TWO_OUTPUTS = np.c_[np.ones(50), np.arange(50.0)]


@pytest.mark.parametrize(
    ("task", "y_true", "y_pred"),
    [
        ("binary", LABELS, PREDICTED_LABELS),
        ("regression", np.linspace(0, 5, 50), np.linspace(0, 5, 50) ** 1.1),
        ("regression", TWO_OUTPUTS, np.c_[np.ones(50), np.zeros(50)]),
        ("regression", TWO_OUTPUTS, np.c_[np.zeros(50), np.ones(50)]),
    ],
)
def test_streaming_scores_equal_task_metrics(task, y_true, y_pred):
    scores = StreamingScores(task)
    for start in range(0, 50, 15):
        scores.update(0.5, y_true[start : start + 15], y_pred[start : start + 15])

    result = scores.result()

    assert result.pop("loss") == pytest.approx(0.5)
    expected = task_metrics(task, y_true, y_pred)
    assert result.keys() == expected.keys()
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


# Training


def fit_quietly(model, source, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit_streaming(model, source, **options)


def test_streaming_fit_learns_linear_regression(tmp_path):
    path = write_linear_npy(tmp_path, 4000)
    model = MLP(hidden_layers=(16,), max_epochs=15, batch_size=32, seed=0)

    fit = fit_quietly(model, NpySource(path), block_rows=250, test_fraction=0.2)

    assert fit.test_scores["r2"] > 0.95
    assert fit.history.records[-1].metrics["r2"] > 0.95
    assert fit.history.monitor == "validation_loss"
    # ceil(0.2 · 16 blocks) = 4 blocks of 250 rows.
    assert fit.split.count_rows(fit.split.test_blocks) == 1000


def test_streaming_fit_matches_in_memory_fit(tmp_path):
    path = write_linear_npy(tmp_path, 4000)
    array = np.load(path)
    settings = {"hidden_layers": (16,), "max_epochs": 15, "batch_size": 32}

    streamed = fit_quietly(MLP(**settings), NpySource(path), block_rows=250)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = MLP(**settings).fit(array[:, :-1], array[:, -1])

    streamed_r2 = streamed.history.records[-1].metrics["r2"]
    in_memory_r2 = in_memory.history_.records[-1].metrics["r2"]
    assert streamed_r2 == pytest.approx(in_memory_r2, abs=0.02)


def test_streaming_fit_classifies_csv_with_categories(tmp_path):
    rng = np.random.default_rng(0)
    n_rows = 3000
    frame = pd.DataFrame(
        {"x": rng.normal(size=n_rows), "color": rng.choice(["r", "g", "b"], n_rows)}
    )
    is_positive = frame["x"] + 2 * (frame["color"] == "r") > 0.5
    frame["label"] = np.where(is_positive, "yes", "no")
    frame.loc[::17, "color"] = None
    path = write_csv(tmp_path, frame)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()

    fit = fit_quietly(
        MLP(hidden_layers=(16,), max_epochs=10),
        CsvSource(path, "label"),
        block_rows=200,
        test_fraction=0.2,
        cache_dir=cache_dir,
    )

    assert fit.test_scores["accuracy"] > 0.9
    assert list(fit.target_encoder.classes_) == ["no", "yes"]
    assert list(cache_dir.iterdir()) == []


def test_streaming_fit_stops_early_on_training_loss(tmp_path):
    path = write_linear_npy(tmp_path, 1000)
    model = MLP(hidden_layers=(8,), max_epochs=500, patience=2, validation_fraction=0)

    fit = fit_streaming(model, NpySource(path), block_rows=100)

    assert fit.history.converged
    assert fit.history.monitor == "train_loss"
    assert fit.history.epochs < 500
    assert fit.history.records[0].metrics == {}


def test_streaming_fit_chooses_block_rows_for_small_file(tmp_path):
    path = write_linear_npy(tmp_path, 1000)
    model = MLP(hidden_layers=(8,), max_epochs=2, batch_size=16)

    fit = fit_quietly(model, NpySource(path))

    assert fit.split.block_rows == 16
    assert fit.split.validation_blocks.size == 7


def test_streaming_fit_rejects_block_smaller_than_batch(tmp_path):
    path = write_linear_npy(tmp_path, 1000)

    with pytest.raises(ParameterError, match="at least batch_size=32"):
        fit_streaming(MLP(batch_size=32), NpySource(path), block_rows=16)


def test_streaming_fit_memory_stays_below_file_size(tmp_path):
    n_rows, n_columns = 200_000, 50
    path = tmp_path / "big.npy"
    array = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n_rows, n_columns)
    )
    rng = np.random.default_rng(0)
    for start in range(0, n_rows, 50_000):
        array[start : start + 50_000] = rng.normal(size=(50_000, n_columns))
    array.flush()
    del array
    file_bytes = path.stat().st_size
    model = MLP(hidden_layers=(16,), max_epochs=1, batch_size=512)

    tracemalloc.start()
    try:
        fit_quietly(model, NpySource(path), block_rows=2048)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak_bytes < file_bytes / 4


def test_split_counts_batches_within_blocks():
    split = split_blocks(1000, 64)

    # 15 full blocks of ceil(64 / 30) = 3 batches, and 40 rows in 2 batches.
    assert split.count_batches(np.arange(16), 30) == 47
    assert split.count_batches(np.array([0, 3]), 30) == 6


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_streaming_fit_raises_on_divergence(tmp_path):
    path = write_linear_npy(tmp_path, 1000)
    model = MLP(hidden_layers=(8,), optimizer="sgd", learning_rate=1e6, momentum=0.0)

    with pytest.raises(TrainingDivergedError, match="training diverged") as caught:
        fit_streaming(model, NpySource(path), block_rows=100)

    assert caught.value.history is not None
    assert caught.value.epoch == 1


def test_streaming_fit_stops_on_request(tmp_path):
    path = write_linear_npy(tmp_path, 1000)
    calls = []

    def stop_requested():
        calls.append(1)
        return len(calls) >= 5

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = fit_streaming(
            MLP(hidden_layers=(8,)), NpySource(path), stop_requested=stop_requested
        )

    assert fit.history.interrupted
    assert fit.history.epochs == 0
    assert len(calls) == 5


def test_mlp_fit_stream_saves_and_predicts(tmp_path):
    path = write_linear_npy(tmp_path, 2000)
    model = MLP(hidden_layers=(8,), max_epochs=20)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit_stream(path, test_fraction=0.2)
    model.save(tmp_path / "model.mlpkit")
    loaded = MLP.load(tmp_path / "model.mlpkit")

    features = np.load(path)[:50, :-1]
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    assert model.test_scores_["r2"] > 0.8
    assert model.history_.best_epoch >= 1
    assert model.block_split_.test_blocks.size > 0


def test_mlp_fit_stream_reads_csv_target_by_name(tmp_path):
    path = write_csv(tmp_path, mixed_frame())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLP(hidden_layers=(8,), max_epochs=2).fit_stream(path, "label")

    assert model.classes_.tolist() == ["no", "yes"]
    assert model.test_scores_ is None
    assert model.preprocessor_.feature_names_in_ == [
        "age",
        "rooms",
        "color",
        "code",
        "constant",
        "grade",
        "price",
        "cost",
    ]
