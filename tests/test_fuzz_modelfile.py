"""Hostile model files: MLP.load either loads a working model or raises ModelFileError.

Each test builds its files on disk from a small trained model and then damages
them: random and mutated bytes, truncation, lying sizes in the zip and .npy
headers, dtypes other than float, extra members, pickles and metadata of the
wrong shape. Any other exception fails the test with its traceback.
"""

import io
import json
import os
import pickle
import struct
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpkit import MLP, modelfile
from mlpkit.errors import ConvergenceWarning, MlpkitError, ModelFileError
from mlpkit.modelfile import load_model_file

# MLPKIT_FUZZ_EXAMPLES raises the number of examples for a deeper search.
FUZZ_EXAMPLES = int(os.environ.get("MLPKIT_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=FUZZ_EXAMPLES == 300,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

WEIGHTS = "arrays/weights_0.npy"
"""The first layer's weights, shape (4, 5): two numeric inputs and two colors."""

MAX_HOSTILE_PEAK_BYTES = 8 * 2**20
"""Traced allocation that loading a hostile file may reach: a few chunks of 1 MiB."""


def make_frame(n_samples=40):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=n_samples),
            "weight": rng.normal(size=n_samples),
            "color": rng.choice(["red", "blue"], n_samples),
        }
    )
    label = np.where(frame["size"] > 0, "yes", "no")
    return frame, label


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    frame, label = make_frame()
    model = MLP(hidden_layers=(5,), max_epochs=3, validation_fraction=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(frame, label)
    path = tmp_path_factory.mktemp("model") / "good.mlpkit"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def members(model_path):
    with zipfile.ZipFile(model_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def npy_bytes(header, data=b"", version=(1, 0)):
    """Build an .npy member from header text and raw data, valid or not."""
    text = header.encode("latin1")
    length_format = "<H" if version == (1, 0) else "<I"
    prefix = b"\x93NUMPY" + bytes(version) + struct.pack(length_format, len(text))
    return prefix + text + data


def npy_header(descr, shape, fortran_order=False):
    fields = f"'descr': {descr!r}, 'fortran_order': {fortran_order}, 'shape': {shape!r}"
    return "{" + fields + ", }\n"


def load_or_reject(path):
    """Return the loaded model, or None when MLP.load raises ModelFileError.

    A loaded model must predict, or raise a project error such as a missing
    column; anything else propagates and fails the test.
    """
    try:
        model = MLP.load(path)
    except ModelFileError:
        return None
    frame, _ = make_frame(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            model.predict(frame)
        except MlpkitError:
            pass
    return model


def traced_peak(function):
    """Run ``function`` and return the peak of traced allocations in bytes."""
    tracemalloc.start()
    try:
        function()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# Bytes


def test_good_file_loads(model_path):
    assert load_or_reject(model_path) is not None


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_rejected(tmp_path, data):
    path = tmp_path / "random.mlpkit"
    path.write_bytes(data)

    assert load_or_reject(path) is None


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_after_zip_signature_rejected(tmp_path, data):
    path = tmp_path / "random.mlpkit"
    path.write_bytes(b"PK\x03\x04" + data)

    assert load_or_reject(path) is None


@FUZZ
@given(
    changes=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    )
)
def test_mutated_bytes_load_or_rejected(tmp_path, model_path, changes):
    data = bytearray(model_path.read_bytes())
    for where, value in changes:
        data[int(where * len(data))] = value
    path = tmp_path / "mutated.mlpkit"
    path.write_bytes(bytes(data))

    load_or_reject(path)


@FUZZ
@given(fraction=st.floats(0, 1, exclude_max=True))
def test_truncated_file_rejected(tmp_path, model_path, fraction):
    data = model_path.read_bytes()
    path = tmp_path / "truncated.mlpkit"
    path.write_bytes(data[: int(fraction * len(data))])

    assert load_or_reject(path) is None


@FUZZ
@given(data=st.binary(max_size=300), stored=st.booleans())
def test_random_member_bytes_rejected(tmp_path, members, data, stored):
    compression = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: data}, compression)

    assert load_or_reject(path) is None


# .npy headers

NPY_DTYPES = [
    "<f4",
    "<f8",
    ">f8",
    "<f2",
    "<i8",
    "|b1",
    "|u1",
    "<c16",
    "|O",
    "<U3",
    "|V8",
    "<M8[s]",
    [("a", "<f8")],
    [("a", "<f4"), ("b", "|O")],
    "(2,)<f8",
]


@FUZZ
@given(
    descr=st.sampled_from(NPY_DTYPES),
    shape=st.lists(
        st.one_of(st.integers(0, 6), st.integers(-3, 2**64)), max_size=4
    ).map(tuple),
    fortran_order=st.booleans(),
    n_bytes=st.integers(0, 400),
)
def test_npy_header_fuzz_load_or_rejected(
    tmp_path, members, descr, shape, fortran_order, n_bytes
):
    data = np.random.default_rng(n_bytes).normal(size=50).tobytes()[:n_bytes]
    member = npy_bytes(npy_header(descr, shape, fortran_order), data)
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: member})

    model = load_or_reject(path)

    if model is not None:
        assert descr in ("<f4", "<f8", ">f8")
        assert shape == (4, 5)


@pytest.mark.parametrize(
    "header",
    [
        "[1, 2, 3]",
        "{'descr': '<f8', 'shape': (4, 5)}",
        "{'descr': '<f8', 'fortran_order': 'no', 'shape': (4, 5)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4, -5)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (True, 5)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': [4, 5]}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,) * 4}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (" + "1, " * 40 + ")}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 5), 'x': 1}",
        "__import__('os').system('echo hacked')",
        "(" * 300 + ")" * 300,
        "-" * 5000 + "1",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",)}",
    ],
)
def test_invalid_npy_header_rejected(tmp_path, members, header):
    member = npy_bytes(header, np.zeros(20).tobytes())
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: member})

    with pytest.raises(ModelFileError, match="weights_0"):
        MLP.load(path)


def test_npy_version_3_rejected(tmp_path, members):
    member = npy_bytes(npy_header("<f8", (4, 5)), np.zeros(20).tobytes(), (3, 0))
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: member})

    with pytest.raises(ModelFileError, match="version 3.0"):
        MLP.load(path)


def test_npy_header_over_limit_rejected(tmp_path, members):
    header = npy_header("<f8", (4, 5)).rstrip("\n") + " " * 20_000 + "\n"
    member = npy_bytes(header, np.zeros(20).tobytes(), (2, 0))
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: member})

    with pytest.raises(ModelFileError, match="header length"):
        MLP.load(path)


@pytest.mark.parametrize(
    "shape", [(2**40,), (10**6, 10**6), (2**62, 2**62), (4, 5, 10**15)]
)
def test_huge_declared_shape_allocates_nothing(tmp_path, members, shape):
    member = npy_bytes(npy_header("<f8", shape), np.zeros(20).tobytes())
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: member})

    def load():
        with pytest.raises(ModelFileError, match="declares shape"):
            MLP.load(path)

    assert traced_peak(load) < MAX_HOSTILE_PEAK_BYTES


@pytest.mark.parametrize(
    "dtype", ["float16", "int64", "uint8", "bool", "complex128", "U3", "M8[s]"]
)
def test_non_float_array_rejected(tmp_path, members, dtype):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros((4, 5), dtype=dtype))
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: buffer.getvalue()})

    with pytest.raises(ModelFileError, match="not float32 or float64"):
        MLP.load(path)


def test_structured_array_rejected(tmp_path, members):
    buffer = io.BytesIO()
    array = np.zeros((4, 5), dtype=[("a", "<f8"), ("b", "<f4")])
    np.lib.format.write_array(buffer, array)
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: buffer.getvalue()})

    with pytest.raises(ModelFileError, match="not float32 or float64"):
        MLP.load(path)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_rejected(tmp_path, members, value):
    weights = np.zeros((4, 5))
    weights[2, 3] = value
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, weights)
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: buffer.getvalue()})

    with pytest.raises(ModelFileError, match="NaN or infinite"):
        MLP.load(path)


@pytest.mark.parametrize("order", ["big-endian", "fortran"])
def test_other_array_layouts_load(tmp_path, model_path, members, order):
    original = np.lib.format.read_array(io.BytesIO(members[WEIGHTS]))
    if order == "big-endian":
        array = original.astype(original.dtype.newbyteorder(">"))
    else:
        array = np.asfortranarray(original)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: buffer.getvalue()})

    loaded = MLP.load(path)

    np.testing.assert_array_equal(loaded.network_.layers[0].weights, original)


# Pickles: nothing in a model file may run as code


class LeavesMarker:
    """Unpickling this creates the file ``path``, showing that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_pickle_member_never_runs(tmp_path, members):
    marker = tmp_path / "ran"
    payload = pickle.dumps(LeavesMarker(marker))
    path = write_zip(tmp_path / "m.mlpkit", {**members, "model.pkl": payload})

    with pytest.raises(ModelFileError, match="model.pkl"):
        MLP.load(path)
    assert not marker.exists()


def test_pickled_object_array_never_runs(tmp_path, members):
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    array = np.array([LeavesMarker(marker)], dtype=object)
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    path = write_zip(tmp_path / "m.mlpkit", {**members, WEIGHTS: buffer.getvalue()})

    with pytest.raises(ModelFileError, match="weights_0"):
        MLP.load(path)
    assert not marker.exists()


def test_pickle_as_metadata_never_runs(tmp_path, members):
    marker = tmp_path / "ran"
    payload = pickle.dumps(LeavesMarker(marker))
    path = write_zip(tmp_path / "m.mlpkit", {**members, "metadata.json": payload})

    with pytest.raises(ModelFileError, match="metadata"):
        MLP.load(path)
    assert not marker.exists()


# Members


@pytest.mark.parametrize(
    "name",
    ["readme.txt", "arrays/", "arrays/a b.npy", "arrays/../x.npy", "arrays/x.npz"],
)
def test_unexpected_member_rejected(tmp_path, members, name):
    path = write_zip(tmp_path / "m.mlpkit", {**members, name: b"hello"})

    with pytest.raises(ModelFileError, match="unexpected member"):
        MLP.load(path)


def test_extra_float_array_is_ignored(tmp_path, members):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ones(3))
    extra = {"arrays/notes.npy": buffer.getvalue()}
    path = write_zip(tmp_path / "m.mlpkit", {**members, **extra})

    assert load_or_reject(path) is not None


def test_missing_array_rejected(tmp_path, members):
    reduced = {name: data for name, data in members.items() if name != WEIGHTS}
    path = write_zip(tmp_path / "m.mlpkit", reduced)

    with pytest.raises(ModelFileError, match="weights_0"):
        MLP.load(path)


def test_repeated_member_rejected(tmp_path, members):
    path = tmp_path / "m.mlpkit"
    write_zip(path, members)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(WEIGHTS, members[WEIGHTS])

    with pytest.raises(ModelFileError, match="twice"):
        MLP.load(path)


def test_too_many_members_rejected(tmp_path, members, monkeypatch):
    monkeypatch.setattr(modelfile, "MAX_MEMBERS", len(members) - 1)
    path = write_zip(tmp_path / "m.mlpkit", members)

    with pytest.raises(ModelFileError, match="members"):
        MLP.load(path)


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"]
)
def test_other_compression_rejected(tmp_path, members, compression):
    path = write_zip(tmp_path / "m.mlpkit", members, compression)

    with pytest.raises(ModelFileError, match="zip method"):
        MLP.load(path)


def central_directory_offsets(data):
    """Return the offset of each central directory header in a zip file."""
    offsets = []
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        offsets.append(start)
        start = data.find(b"PK\x01\x02", start + 4)
    return offsets


def patch_central_directory(path, member, field_offset, value, field_format="<I"):
    """Overwrite one field of ``member``'s central directory header."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        index = archive.namelist().index(member)
    offset = central_directory_offsets(bytes(data))[index] + field_offset
    struct.pack_into(field_format, data, offset, value)
    path.write_bytes(bytes(data))


# Offsets in a central directory header, from the zip specification (APPNOTE 4.3.12).
FLAGS_FIELD = 8
COMPRESSED_SIZE_FIELD = 20
UNCOMPRESSED_SIZE_FIELD = 24


def test_encrypted_member_rejected(tmp_path, members):
    path = write_zip(tmp_path / "m.mlpkit", members)
    patch_central_directory(path, WEIGHTS, FLAGS_FIELD, 0x1, "<H")

    with pytest.raises(ModelFileError, match="encrypted"):
        MLP.load(path)


def test_absurd_compression_ratio_rejected(tmp_path, members):
    path = write_zip(tmp_path / "m.mlpkit", members)
    patch_central_directory(path, WEIGHTS, UNCOMPRESSED_SIZE_FIELD, 2**32 - 2)

    def load():
        with pytest.raises(ModelFileError, match="zip bomb"):
            MLP.load(path)

    assert traced_peak(load) < MAX_HOSTILE_PEAK_BYTES


def test_compressed_size_beyond_file_rejected(tmp_path, members):
    path = write_zip(tmp_path / "m.mlpkit", members)
    patch_central_directory(path, WEIGHTS, COMPRESSED_SIZE_FIELD, 2**31)

    with pytest.raises(ModelFileError, match="compressed bytes"):
        MLP.load(path)


def test_understated_size_rejected(tmp_path, members):
    path = write_zip(tmp_path / "m.mlpkit", members)
    declared = len(members[WEIGHTS]) - 8
    patch_central_directory(path, WEIGHTS, UNCOMPRESSED_SIZE_FIELD, declared)

    with pytest.raises(ModelFileError, match="damaged"):
        MLP.load(path)


def test_zip_bomb_over_budget_allocates_nothing(tmp_path, members):
    n_values = 8 * 2**20
    member = npy_bytes(npy_header("<f8", (n_values,)), bytes(8 * n_values))
    path = write_zip(tmp_path / "bomb.mlpkit", {**members, "arrays/bomb.npy": member})
    assert path.stat().st_size < len(member) // 500

    def load():
        with pytest.raises(ModelFileError, match="bytes of arrays"):
            load_model_file(path, max_array_bytes=2**20)

    assert traced_peak(load) < MAX_HOSTILE_PEAK_BYTES


def test_zip_bomb_within_budget_costs_its_size(tmp_path, members):
    n_values = 2 * 2**20
    member = npy_bytes(npy_header("<f8", (n_values,)), bytes(8 * n_values))
    path = write_zip(tmp_path / "bomb.mlpkit", {**members, "arrays/bomb.npy": member})

    peak = traced_peak(lambda: load_model_file(path))

    # The decompressed 16 MiB, with room for the buffer's growth while reading.
    assert peak < 2 * len(member)


def test_metadata_over_limit_rejected(tmp_path, model_path, monkeypatch):
    monkeypatch.setattr(modelfile, "MAX_METADATA_BYTES", 100)

    with pytest.raises(ModelFileError, match="bytes of metadata"):
        MLP.load(model_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_rejected_without_blocking(tmp_path):
    path = tmp_path / "pipe.mlpkit"
    os.mkfifo(path)

    with pytest.raises(ModelFileError, match="not a regular file"):
        MLP.load(path)


# Metadata


def rewrite_metadata(tmp_path, members, metadata):
    text = metadata if isinstance(metadata, str) else json.dumps(metadata)
    return write_zip(tmp_path / "m.mlpkit", {**members, "metadata.json": text})


@pytest.mark.parametrize(
    "text",
    [
        '{"format": "mlpkit-model", "format_version": 1, "x": NaN}',
        '{"format": "mlpkit-model", "format_version": 1, "x": -Infinity}',
        '{"format": "mlpkit-model", "format_version": 1, "x": 1e999}',
        '{"format": "mlpkit-model", "format_version": 1, "x": ' + "9" * 5000 + "}",
        "[" * 100_000 + "]" * 100_000,
        '{"format": "mlpkit-model", "format_version": 1',
        "",
        "null",
    ],
    ids=[
        "nan",
        "infinity",
        "overflow",
        "long-int",
        "deep",
        "truncated",
        "empty",
        "null",
    ],
)
def test_unreadable_metadata_rejected(tmp_path, members, text):
    path = rewrite_metadata(tmp_path, members, text)

    assert load_or_reject(path) is None


@pytest.mark.parametrize("version", [True, 0, -1, "1", 1.0, None, 99])
def test_invalid_format_version_rejected(tmp_path, members, version):
    metadata = json.loads(members["metadata.json"])
    metadata["format_version"] = version
    path = rewrite_metadata(tmp_path, members, metadata)

    with pytest.raises(ModelFileError, match="format version"):
        MLP.load(path)


def json_paths(value, prefix=()):
    """Return the path of every node below ``value``, as tuples of keys and indices."""
    paths = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        items = []
    for key, child in items:
        paths.append((*prefix, key))
        paths.extend(json_paths(child, (*prefix, key)))
    return paths


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["float16", "softmax", "regression", "multiclass", "numeric"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


@FUZZ
@given(data=st.data())
def test_mutated_metadata_load_or_rejected(tmp_path, members, data):
    metadata = json.loads(members["metadata.json"])
    paths = [path for path in json_paths(metadata) if path[0] not in ("format",)]
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        path = data.draw(st.sampled_from(paths), label="path")
        parent = metadata
        try:
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict) and data.draw(st.booleans(), label="delete"):
                del parent[path[-1]]
            else:
                parent[path[-1]] = data.draw(JSON_VALUES, label="value")
        except (KeyError, IndexError, TypeError):
            # An earlier change removed or replaced this path.
            continue
    path = rewrite_metadata(tmp_path, members, metadata)

    load_or_reject(path)


@pytest.mark.parametrize(
    "section, value",
    [
        ("settings", []),
        ("settings", "adam"),
        ("network", None),
        ("preprocessing", [1, 2]),
        ("target", 5),
        ("history", []),
        ("history", "none"),
        ("history", {"records": [{"epoch": "one"}]}),
        ("history", {"records": 3}),
    ],
)
def test_section_of_wrong_type_rejected(tmp_path, members, section, value):
    metadata = json.loads(members["metadata.json"])
    metadata[section] = value
    path = rewrite_metadata(tmp_path, members, metadata)

    with pytest.raises(ModelFileError):
        MLP.load(path)


@pytest.mark.parametrize(
    "section", ["settings", "network", "preprocessing", "target", "history"]
)
def test_missing_section_rejected(tmp_path, members, section):
    metadata = json.loads(members["metadata.json"])
    del metadata[section]
    path = rewrite_metadata(tmp_path, members, metadata)

    with pytest.raises(ModelFileError):
        MLP.load(path)


@pytest.mark.parametrize(
    "layer_sizes",
    [[4, 10**9, 1], [10**6, 10**6, 1], [4, 2**70, 1], [4, 5, 5, 1], [4, 6, 1], [4]],
)
def test_layer_sizes_not_matching_arrays_allocate_nothing(
    tmp_path, members, layer_sizes
):
    metadata = json.loads(members["metadata.json"])
    metadata["network"]["layer_sizes"] = layer_sizes
    path = rewrite_metadata(tmp_path, members, metadata)

    def load():
        with pytest.raises(ModelFileError):
            MLP.load(path)

    assert traced_peak(load) < MAX_HOSTILE_PEAK_BYTES


@pytest.mark.parametrize(
    "section, key, value",
    [
        ("target", "task_", "regression"),
        ("target", "task_", "multiclass"),
        ("target", "classes", ["no", "yes", "maybe"]),
        ("network", "output_activation", "softmax"),
        ("network", "loss", "squared_error"),
        ("network", "dtype", "float16"),
    ],
)
def test_inconsistent_sections_rejected(tmp_path, members, section, key, value):
    metadata = json.loads(members["metadata.json"])
    metadata[section][key] = value
    path = rewrite_metadata(tmp_path, members, metadata)

    with pytest.raises(ModelFileError):
        MLP.load(path)
