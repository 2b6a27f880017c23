"""DICOM SEG export/import: exact round trip, a valid Segmentation object that references
the source series, coded femur/tibia, privacy, refusal of resampled or non-DICOM CTs,
and the real dcmqi SEG of tests/data/real-dicom loading onto its CT."""

from __future__ import annotations

import logging
from pathlib import Path

import highdicom
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.sr.codedict import codes
from pydicom.uid import SegmentationStorage

from kneeseg_app.core.dicom.seg import COPIED_FROM_SOURCE, dicom_seg_problem, write_dicom_seg
from kneeseg_app.core.dicom.seg_read import read_dicom_seg
from kneeseg_app.core.dicom.write import write_dicom_series
from kneeseg_app.core.errors import LabelMapError, OutputError
from kneeseg_app.core.imageio import open_volume
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.volume import Volume

PATIENT = {"PatientName": "Doe^Jane", "PatientID": "PID-12345", "PatientBirthDate": "19600102", "PatientSex": "F"}
SENSITIVE = {
    "PatientAddress": "221B Baker Street",
    "OtherPatientIDs": "OTHER-ID-4711",
    "InstitutionName": "St Elsewhere Hospital",
    "InstitutionAddress": "1 Hospital Road",
    "PatientAge": "063Y",
    "PatientWeight": "81.5",
    "OperatorsName": "Operator^Olga",
    "PerformingPhysicianName": "Surgeon^Sam",
    "PatientComments": "allergic to penicillin",
    "StudyDescription": "Left knee pre-op planning",
}


def rotation(z_deg: float, x_deg: float) -> np.ndarray:
    a, b = np.radians(z_deg), np.radians(x_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def write_ct_case(folder: Path, direction: np.ndarray) -> tuple[Volume, np.ndarray]:
    """A phantom knee CT written as a DICOM series carrying identifying data; returns the
    CT as KneeSeg reads it and the reference labels on its grid."""
    phantom = generate_phantom(11, shape_zyx=(20, 72, 72), spacing_zyx=(2.0, 1.2, 1.2))
    ct = Volume(phantom.ct.array, phantom.ct.spacing_zyx, phantom.ct.origin_xyz, direction)
    files = write_dicom_series(ct, folder, patient_name=PATIENT["PatientName"], patient_id=PATIENT["PatientID"])
    for path in files:
        ds = pydicom.dcmread(path)
        for keyword, value in {**PATIENT, **SENSITIVE}.items():
            setattr(ds, keyword, value)
        ds.save_as(path, enforce_file_format=True)
    read = open_volume(folder)
    assert read.same_grid(ct) and not read.warnings
    return read, phantom.labels.array


@pytest.fixture(scope="module", params=[np.eye(3), rotation(15, 5)], ids=["axial", "oblique"])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Volume, np.ndarray, Path]:
    root = tmp_path_factory.mktemp("seg")
    ct, labels = write_ct_case(root / "ct", request.param)
    seg_path = write_dicom_seg(
        ct.with_array(labels),
        ct,
        root / "out" / "knee.seg.dcm",
        algorithm_name="KneeSeg demo-unet",
        algorithm_version="0.3",
    )
    return ct, labels, seg_path


def test_round_trip_gives_back_the_label_map_exactly(case) -> None:
    ct, labels, seg_path = case
    assert dicom_seg_problem(ct) is None
    back = read_dicom_seg(seg_path, ct)
    assert back.same_grid(ct) and back.array.dtype == np.uint8
    assert np.array_equal(back.array, labels)
    assert set(np.unique(labels)) == {0, 1, 2}


def test_the_file_is_a_binary_segmentation_referencing_every_source_slice(case) -> None:
    ct, labels, seg_path = case
    ds = pydicom.dcmread(seg_path)
    assert ds.SOPClassUID == SegmentationStorage == ds.file_meta.MediaStorageSOPClassUID
    assert ds.Modality == "SEG" and ds.SegmentationType == "BINARY" and ds.BitsAllocated == 1
    sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in ct.dicom.files]
    (series,) = ds.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == ct.dicom.series_instance_uid == sources[0].SeriesInstanceUID
    assert [i.ReferencedSOPInstanceUID for i in series.ReferencedInstanceSequence] == [
        s.SOPInstanceUID for s in sources
    ]
    assert ds.FrameOfReferenceUID == sources[0].FrameOfReferenceUID
    assert ds.StudyInstanceUID == sources[0].StudyInstanceUID and ds.SeriesInstanceUID != sources[0].SeriesInstanceUID
    # one frame per (segment, slice holding it), each pointing at its own CT slice
    expected_frames = sum(int((labels == v).any(axis=(1, 2)).sum()) for v in (1, 2))
    assert int(ds.NumberOfFrames) == len(ds.PerFrameFunctionalGroupsSequence) == expected_frames
    by_uid = {s.SOPInstanceUID: s for s in sources}
    for frame in ds.PerFrameFunctionalGroupsSequence:
        source_uid = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        assert frame.PlanePositionSequence[0].ImagePositionPatient == by_uid[source_uid].ImagePositionPatient


def test_segments_are_coded_femur_and_tibia_made_automatically_by_the_named_model(case) -> None:
    _, _, seg_path = case
    ds = pydicom.dcmread(seg_path, stop_before_pixels=True)
    coded = {
        s.SegmentLabel: (
            s.SegmentedPropertyCategoryCodeSequence[0].CodeValue,
            s.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator,
            s.SegmentedPropertyTypeCodeSequence[0].CodeValue,
            s.SegmentAlgorithmType,
            s.SegmentAlgorithmName,
        )
        for s in ds.SegmentSequence
    }
    assert coded == {
        "Femur": ("91723000", "SCT", "71341001", "AUTOMATIC", "KneeSeg demo-unet 0.3"),
        "Tibia": ("91723000", "SCT", "12611008", "AUTOMATIC", "KneeSeg demo-unet 0.3"),
    }


def test_highdicom_reads_the_segments_at_the_positions_they_were_written(case) -> None:
    ct, labels, seg_path = case
    seg = highdicom.seg.segread(seg_path)
    assert [seg.get_segment_description(n).segmented_property_type.value for n in seg.get_segment_numbers()] == [
        "71341001",
        "12611008",
    ]
    volume = seg.get_volume(combine_segments=True, relabel=False)
    for m in range(volume.spatial_shape[0]):
        position = volume.affine @ np.array([m, 0, 0, 1.0])
        k = int(round(ct.lps_to_index(position[:3])[0]))
        assert np.array_equal(volume.array[m], labels[k])


def test_only_the_identifiers_the_standard_requires_are_copied_and_nothing_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ct, labels = write_ct_case(tmp_path / "ct", np.eye(3))
    seg_path = write_dicom_seg(ct.with_array(labels), ct, tmp_path / "knee.dcm")
    read_dicom_seg(seg_path, ct)
    ds = pydicom.dcmread(seg_path)
    source = pydicom.dcmread(ct.dicom.files[0], stop_before_pixels=True)
    for keyword in COPIED_FROM_SOURCE:
        assert ds.get(keyword) == source.get(keyword, ""), keyword
    assert {k: str(ds.get(k)) for k in PATIENT} == PATIENT  # the SEG is filed under the same patient
    raw = seg_path.read_bytes()
    for keyword, value in SENSITIVE.items():
        assert keyword not in ds, keyword
        assert value.encode() not in raw, keyword
    assert "Doe" not in caplog.text and "PID-12345" not in caplog.text


def test_a_ct_not_read_from_dicom_cannot_get_a_seg(tmp_path: Path) -> None:
    ct = Volume(np.zeros((4, 8, 8), np.int16), (1.0, 1.0, 1.0), source=str(tmp_path / "knee.nii.gz"))
    labels = ct.with_array(np.ones((4, 8, 8), np.uint8))
    with pytest.raises(OutputError, match="DICOM SEG needs a CT opened from DICOM files"):
        write_dicom_seg(labels, ct, tmp_path / "seg.dcm")
    assert "DICOM SEG needs a CT opened from DICOM files" in dicom_seg_problem(ct)


def test_a_ct_resampled_when_read_cannot_get_a_seg(tmp_path: Path, real_dicom: Path) -> None:
    tilted = open_volume(real_dicom / "ge-head-gantry-tilt")  # resampled: tilt and uneven gaps
    labels = tilted.with_array(np.zeros(tilted.shape, np.uint8))
    labels.array[10, 100:110, 100:110] = 1
    with pytest.raises(OutputError, match="resampled"):
        write_dicom_seg(labels, tilted, tmp_path / "seg.dcm")
    assert not (tmp_path / "seg.dcm").exists()
    assert "resampled" in dicom_seg_problem(tilted)


def test_a_grid_that_moved_off_the_original_slices_cannot_get_a_seg(case, tmp_path: Path) -> None:
    ct, labels, _ = case
    shifted = ct.with_array(ct.array, origin_xyz=tuple(np.add(ct.origin_xyz, (0.0, 0.0, 0.5))), dicom=ct.dicom)
    with pytest.raises(OutputError, match="resampled"):
        write_dicom_seg(shifted.with_array(labels), shifted, tmp_path / "seg.dcm")


def test_the_seg_is_never_written_into_the_ct_folder(case) -> None:
    ct, labels, _ = case
    folder = Path(ct.dicom.files[0]).parent
    with pytest.raises(OutputError, match="input folder"):
        write_dicom_seg(ct.with_array(labels), ct, folder / "seg.dcm")
    assert not (folder / "seg.dcm").exists()


def test_real_dcmqi_liver_seg_loads_onto_its_ct_and_matches_the_nrrd_label_map(real_dicom: Path) -> None:
    case = real_dicom / "ge-abdomen-3slice-with-seg"
    ct = open_volume(case / "ct")
    seg = read_dicom_seg(case / "liver.dcm", ct)
    nrrd = sitk.GetArrayFromImage(sitk.ReadImage(str(case / "liver_seg.nrrd")))
    assert seg.same_grid(ct) and seg.shape == nrrd.shape
    assert set(np.unique(seg.array)) == {0, 1}  # an uncoded segment keeps its number
    assert np.array_equal(seg.array > 0, nrrd > 0)
    assert int((seg.array > 0).sum()) == 107098


@pytest.mark.parametrize("kind", ["LABELMAP", "FRACTIONAL"])
def test_labelmap_and_fractional_segs_written_by_highdicom_load_by_their_codes(case, tmp_path: Path, kind: str) -> None:
    ct, labels, _ = case
    sources = [pydicom.dcmread(f) for f in ct.dicom.files]
    descriptions = [
        highdicom.seg.SegmentDescription(
            segment_number=number,
            segment_label=name,
            segmented_property_category=codes.SCT.AnatomicalStructure,
            segmented_property_type=code,
            algorithm_type=highdicom.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number, (name, code) in enumerate([("Tibia", codes.SCT.Tibia), ("Femur", codes.SCT.Femur)], 1)
    ]
    tibia_first = np.select([labels == 2, labels == 1], [1, 2], 0).astype(np.uint8)  # segment numbers
    if kind == "LABELMAP":
        pixels = tibia_first
    else:
        pixels = np.stack([(tibia_first == 1) * 0.9, (tibia_first == 2) * 0.6], axis=-1).astype(np.float32)
    seg = highdicom.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels,
        segmentation_type=getattr(highdicom.seg.SegmentationTypeValues, kind),
        segment_descriptions=descriptions,
        series_instance_uid=highdicom.UID(),
        series_number=2,
        sop_instance_uid=highdicom.UID(),
        instance_number=1,
        manufacturer="other tool",
        manufacturer_model_name="other",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(tmp_path / "other.dcm")
    assert np.array_equal(read_dicom_seg(tmp_path / "other.dcm", ct).array, labels)


def test_importing_something_else_or_a_seg_of_another_ct_is_refused(case, real_dicom: Path) -> None:
    ct, _, _ = case
    with pytest.raises(LabelMapError, match="not a DICOM Segmentation"):
        read_dicom_seg(ct.dicom.files[0], ct)
    with pytest.raises(LabelMapError, match="another series"):
        read_dicom_seg(real_dicom / "ge-abdomen-3slice-with-seg" / "liver.dcm", ct)
