"""The .kneeseg session file: round trip, byte-identical re-save, refusals of another CT."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.session_file import (
    CTIdentity,
    SessionFile,
    SessionFileError,
    read_session,
    session_bytes,
    write_session,
)
from kneeseg_app.core.volume import DicomFacts, Volume

SHAPE = (6, 10, 12)


def _ct(series_uid: str = "1.2.3.4", spacing=(2.0, 0.8, 0.8), origin=(-5.0, -4.0, 10.0)) -> Volume:
    facts = DicomFacts(modality="CT", series_instance_uid=series_uid, study_instance_uid="1.2.3")
    return Volume(np.zeros(SHAPE, np.int16), spacing, origin, dicom=facts)


def _session(edited: bool = True) -> SessionFile:
    rng = np.random.default_rng(3)
    model = rng.integers(0, 3, SHAPE).astype(np.uint8)
    edits = model.copy()
    edits[2, 3:6, 4:8] = 1
    return SessionFile(
        ct=CTIdentity.of(_ct(), "/data/knee"),
        model_name="knee-v2",
        model_labels=model,
        edited_labels=edits if edited else None,
        model_settings={"tta": True, "threads": 2, "patch": (64, 64)},
        label_names={1: "femur", 2: "tibia"},
        result_facts={"seconds": 12.5, "volumes_ml": {"femur": 412.25, "tibia": np.float64(298.125)}},
        checks={"verdict": "pass", "checks": [{"name": "size", "ok": True}]},
        top_probability=np.full(SHAPE, 255, np.uint8),
    )


def test_a_session_round_trips_with_its_labels_and_facts(tmp_path: Path) -> None:
    saved = _session()
    path = write_session(tmp_path / "out" / "case.kneeseg", saved)
    opened = read_session(path)
    assert opened.ct == saved.ct
    np.testing.assert_array_equal(opened.model_labels, saved.model_labels)
    np.testing.assert_array_equal(opened.edited_labels, saved.edited_labels)
    np.testing.assert_array_equal(opened.labels, saved.edited_labels)
    assert opened.model_name == "knee-v2"
    assert opened.label_names == {1: "femur", 2: "tibia"}
    assert opened.model_settings == {"tta": True, "threads": 2, "patch": [64, 64]}
    assert opened.result_facts["volumes_ml"] == {"femur": 412.25, "tibia": 298.125}
    assert opened.checks["verdict"] == "pass"


def test_save_open_save_gives_the_same_bytes(tmp_path: Path) -> None:
    first = write_session(tmp_path / "a.kneeseg", _session())
    second = write_session(tmp_path / "b.kneeseg", read_session(first))
    assert first.read_bytes() == second.read_bytes()


def test_the_zip_holds_no_clock_time_and_compresses_the_labels(tmp_path: Path) -> None:
    path = write_session(tmp_path / "a.kneeseg", _session())
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in infos)
    assert sorted(info.filename for info in infos) == [
        "edited_labels.npy",
        "model_labels.npy",
        "session.json",
        "top_probability.npy",
    ]


def test_an_unedited_session_stores_no_edited_labels(tmp_path: Path) -> None:
    opened = read_session(write_session(tmp_path / "a.kneeseg", _session(edited=False)))
    assert opened.edited_labels is None
    np.testing.assert_array_equal(opened.labels, opened.model_labels)


def test_the_same_ct_fits_and_another_is_refused_in_one_sentence() -> None:
    identity = CTIdentity.of(_ct(), "/data/knee")
    assert identity.mismatch(_ct()) == ""
    other_series = identity.mismatch(_ct(series_uid="9.9.9"))
    assert "series UID" in other_series and other_series.endswith(".")
    assert "spacing" in identity.mismatch(_ct(spacing=(2.5, 0.8, 0.8)))
    assert "origin" in identity.mismatch(_ct(origin=(0.0, 0.0, 0.0)))
    smaller = replace(_ct(), array=np.zeros((5, 10, 12), np.int16))
    assert "6 x 10 x 12" in identity.mismatch(smaller)
    assert "series UID is missing" in identity.mismatch(Volume(np.zeros(SHAPE, np.int16), (2.0, 0.8, 0.8)))


def test_labels_of_another_grid_are_refused_before_writing(tmp_path: Path) -> None:
    broken = replace(_session(), model_labels=np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(SessionFileError, match="model labels"):
        session_bytes(broken)


def test_a_session_is_never_written_into_an_input_folder(tmp_path: Path) -> None:
    inputs = tmp_path / "dicom"
    inputs.mkdir()
    with pytest.raises(OutputError):
        write_session(inputs / "case.kneeseg", _session(), protected=[inputs])
    assert list(inputs.iterdir()) == []


@pytest.mark.parametrize("content", [b"not a zip", b""])
def test_a_file_that_is_no_session_is_refused_in_one_sentence(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.kneeseg"
    path.write_bytes(content)
    with pytest.raises(SessionFileError, match="not a KneeSeg session file"):
        read_session(path)


def test_a_missing_session_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SessionFileError, match="does not exist"):
        read_session(tmp_path / "gone.kneeseg")


def test_a_result_without_bone_and_a_probability_without_doubt_round_trip(tmp_path: Path) -> None:
    empty = replace(
        _session(edited=False),
        model_labels=np.zeros(SHAPE, np.uint8),
        top_probability=np.full(SHAPE, 255, np.uint8),
    )
    opened = read_session(write_session(tmp_path / "e.kneeseg", empty))
    assert not opened.model_labels.any() and (opened.top_probability == 255).all()
    assert opened.model_labels.shape == SHAPE


def test_only_the_box_around_the_bones_and_the_edits_is_stored(tmp_path: Path) -> None:
    session = _session()
    session.model_labels[:] = 0
    session.model_labels[1:3, 2:4, 5:7] = 2
    session.edited_labels = session.model_labels.copy()
    session.edited_labels[4, 8, 9] = 1
    path = write_session(tmp_path / "box.kneeseg", session)
    with zipfile.ZipFile(path) as archive:
        model = np.lib.format.read_array(archive.open("model_labels.npy"))
        edits = np.lib.format.read_array(archive.open("edited_labels.npy"))
    assert model.shape == (2, 2, 2) and edits.shape == (1, 1, 1)
    opened = read_session(path)
    np.testing.assert_array_equal(opened.model_labels, session.model_labels)
    np.testing.assert_array_equal(opened.edited_labels, session.edited_labels)


def _large_session() -> SessionFile:
    """Labels of several compression chunks, so that progress has steps in between."""
    shape = (80, 256, 256)  # 5 MiB: two chunks
    rng = np.random.default_rng(5)
    model = rng.integers(0, 3, shape).astype(np.uint8)
    ct = Volume(np.zeros(shape, np.int16), (2.0, 0.8, 0.8), (0.0, 0.0, 0.0))
    return SessionFile(ct=CTIdentity.of(ct, "/data/knee"), model_name="knee-v2", model_labels=model)


def test_writing_reports_rising_progress_that_ends_at_one(tmp_path: Path) -> None:
    reports: list[tuple[str, float]] = []
    session = _large_session()
    write_session(tmp_path / "p.kneeseg", session, progress=lambda stage, f: reports.append((stage, f)))
    fractions = [f for _, f in reports]
    assert len(fractions) >= 4  # several chunks, not one jump
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(stage.startswith("Saving the session") for stage, _ in reports)
    np.testing.assert_array_equal(read_session(tmp_path / "p.kneeseg").model_labels, session.model_labels)


def test_a_cancelled_write_leaves_no_file_not_even_a_partial_one(tmp_path: Path) -> None:
    from kneeseg_app.core.errors import Cancelled
    from kneeseg_app.core.progress import CancelToken

    token = CancelToken()

    def cancel_half_way(_stage: str, fraction: float) -> None:
        if fraction > 0.3:
            token.cancel()

    with pytest.raises(Cancelled):
        write_session(tmp_path / "c.kneeseg", _large_session(), progress=cancel_half_way, cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_the_file_is_the_same_bytes_as_the_in_memory_session(tmp_path: Path) -> None:
    session = _large_session()
    assert write_session(tmp_path / "s.kneeseg", session).read_bytes() == session_bytes(session)
