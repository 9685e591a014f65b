"""The model file: zip of .npy arrays and JSON, atomic writes, clear load errors."""

import errno
import io
import json
import os
import zipfile

import numpy as np
import pytest

from mlpkit import modelfile
from mlpkit.errors import ModelFileError, ParameterError
from mlpkit.modelfile import (
    FORMAT_VERSION,
    METADATA_MEMBER,
    load_model_file,
    save_model_file,
    write_atomically,
)

ARRAYS = {"weights_0": np.arange(6, dtype=np.float32).reshape(2, 3), "biases_0": np.ones(3)}


def test_round_trip_keeps_arrays_and_metadata(tmp_path):
    path = tmp_path / "model.mlpkit"
    save_model_file(path, {"task": "binary", "values": [1.5, 2]}, ARRAYS)

    metadata, arrays = load_model_file(path)

    assert metadata["task"] == "binary"
    assert metadata["format_version"] == FORMAT_VERSION
    for name, array in ARRAYS.items():
        np.testing.assert_array_equal(arrays[name], array)
        assert arrays[name].dtype == array.dtype


def test_save_leaves_no_temporary_files(tmp_path):
    save_model_file(tmp_path / "model.mlpkit", {}, ARRAYS)

    assert [p.name for p in tmp_path.iterdir()] == ["model.mlpkit"]


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "model.mlpkit"
    path.write_bytes(b"previous")

    def crash(file):
        file.write(b"half a mod")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_atomically(path, crash)

    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.mlpkit"]


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model_file(tmp_path / "nothing.mlpkit")


def test_random_bytes_rejected(tmp_path):
    path = tmp_path / "noise.mlpkit"
    path.write_bytes(np.random.default_rng(0).bytes(500))

    with pytest.raises(ModelFileError, match="not an mlpkit model file"):
        load_model_file(path)


def test_truncated_file_rejected(tmp_path):
    path = tmp_path / "model.mlpkit"
    save_model_file(path, {}, ARRAYS)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(ModelFileError, match="truncated"):
        load_model_file(path)


def test_other_zip_rejected(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")

    with pytest.raises(ModelFileError, match="not an mlpkit model file"):
        load_model_file(path)


def rewrite_metadata(path, change):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members[METADATA_MEMBER])
    change(metadata)
    members[METADATA_MEMBER] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_newer_format_rejected(tmp_path):
    path = tmp_path / "model.mlpkit"
    save_model_file(path, {}, ARRAYS)
    rewrite_metadata(path, lambda metadata: metadata.update(format_version=999))

    with pytest.raises(ModelFileError, match="upgrade mlpkit"):
        load_model_file(path)


def test_pickled_array_rejected(tmp_path):
    path = tmp_path / "model.mlpkit"
    save_model_file(path, {}, ARRAYS)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("arrays/evil.npy", buffer.getvalue())

    with pytest.raises(ModelFileError, match="evil"):
        load_model_file(path)


def test_metadata_not_json_rejected(tmp_path):
    path = tmp_path / "model.mlpkit"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA_MEMBER, b"\xff\xfe not json")

    with pytest.raises(ModelFileError, match="metadata"):
        load_model_file(path)


def test_padded_array_rejected_before_decompressing(tmp_path, monkeypatch):
    path = tmp_path / "model.mlpkit"
    save_model_file(path, {}, {})
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((5, 16), dtype=np.float32))
    padded = buffer.getvalue() + bytes(20_000_000)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("arrays/weights_0.npy", padded)

    read_member = modelfile._read_member

    def read_unless_padded(archive, info):
        assert info.filename != "arrays/weights_0.npy", "decompressed in full"
        return read_member(archive, info)

    monkeypatch.setattr(modelfile, "_read_member", read_unless_padded)

    with pytest.raises(ModelFileError) as caught:
        load_model_file(path)

    message = str(caught.value)
    assert "'weights_0'" in message
    assert "320 bytes" in message
    assert "20000320 bytes after the header" in message


def failing_append_open(error_number):
    """Return an open() that fails for appending with ``error_number``."""

    def fake_open(path, mode="r", *args, **kwargs):
        if mode == "ab":
            raise PermissionError(error_number, os.strerror(error_number))
        return open(path, mode, *args, **kwargs)

    return fake_open


def test_immutable_file_rejected_before_writing(tmp_path, monkeypatch):
    path = tmp_path / "model.mlpkit"
    path.write_bytes(b"old")
    fake_open = failing_append_open(errno.EPERM)
    monkeypatch.setattr(modelfile, "open", fake_open, raising=False)

    with pytest.raises(ParameterError, match="not permitted, as for an immutable"):
        modelfile.check_replaceable_file(path)

    assert path.read_bytes() == b"old"


def test_read_only_file_still_replaceable(tmp_path, monkeypatch):
    # A rename replaces a file that only its mode protects.
    path = tmp_path / "model.mlpkit"
    path.write_bytes(b"old")
    fake_open = failing_append_open(errno.EACCES)
    monkeypatch.setattr(modelfile, "open", fake_open, raising=False)

    modelfile.check_replaceable_file(path)

    assert path.read_bytes() == b"old"
