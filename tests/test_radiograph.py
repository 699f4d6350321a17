"""Radiograph reading: DICOM (LUTs, MONOCHROME1, compressed syntaxes), plain images, and clear errors."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from helpers.jpeg_lossless import encode as jpeg_lossless
from PIL import Image

from spine.dicomfilm import write_dicom
from spine.radiograph import RadiographError, read_radiograph, window


def _bone_image(h: int = 64, w: int = 48) -> np.ndarray:
    """Soft tissue 0.3 with a bright 'bone' square of 0.9 in the middle."""
    image = np.full((h, w), 0.3)
    image[20:44, 14:34] = 0.9
    return image


def test_monochrome1_12bit_reads_with_bright_bone(tmp_path):
    path = write_dicom(_bone_image(), tmp_path / "m1.dcm", spacing_mm=(0.2, 0.15), age_years=14, sex="F", view="PA",
                       bits_stored=12, monochrome1=True)
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1" and ds.BitsStored == 12
    assert ds.pixel_array[30, 20] < ds.pixel_array[2, 2]  # bone is dark in the stored values
    film = read_radiograph(path)
    assert film.pixels[30, 20] > film.pixels[2, 2] + 0.5  # and bright once read
    assert film.pixels.dtype == np.float32 and 0 <= film.pixels.min() and film.pixels.max() <= 1
    assert film.spacing_mm == (0.2, 0.15) and film.spacing_source == "PixelSpacing"
    assert film.age == 14 and film.sex == "F" and film.view == "PA"
    assert (film.width, film.height) == (48, 64)


def test_imager_pixel_spacing_is_reported_as_its_source(tmp_path):
    path = write_dicom(_bone_image(), tmp_path / "ips.dcm", spacing_mm=(0.14, 0.14), spacing_tag="ImagerPixelSpacing")
    film = read_radiograph(path)
    assert film.spacing_mm == (0.14, 0.14) and film.spacing_source == "ImagerPixelSpacing"


def test_window_and_rescale_are_applied(tmp_path):
    # stored 0..4095, rescale to -1000..3095; window 1000 +- 500 maps stored 2000 (rescaled 1000) to mid-grey.
    image = np.tile(np.linspace(0, 1, 64), (8, 1))
    path = write_dicom(image, tmp_path / "w.dcm", bits_stored=12, rescale=(1.0, -1000.0), window=(1000.0, 1000.0))
    film = read_radiograph(path)
    stored = pydicom.dcmread(path).pixel_array.astype(float) - 1000.0
    expected = window(stored, 1000.0, 1000.0)
    assert np.allclose(film.pixels, expected, atol=1e-6)
    assert film.pixels.min() == 0.0 and film.pixels.max() == 1.0


def test_age_from_birth_and_study_dates(tmp_path):
    path = write_dicom(_bone_image(), tmp_path / "a.dcm")
    ds = pydicom.dcmread(path)
    ds.PatientBirthDate, ds.StudyDate = "20100101", "20260101"
    ds.save_as(path)
    assert read_radiograph(path).age == pytest.approx(16.0, abs=0.02)


def _compressed_copy(tmp_path, name: str, syntax, frame: bytes | None = None):
    from pydicom.encaps import encapsulate

    source = write_dicom(_bone_image(), tmp_path / f"{name}_src.dcm", bits_stored=12)
    ds = pydicom.dcmread(source)
    if frame is None:
        ds.compress(syntax)
    else:
        ds.file_meta.TransferSyntaxUID = syntax
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
    target = tmp_path / f"{name}.dcm"
    ds.save_as(target)
    return source, target


def test_jpeg_lossless_sv1_dicom_decodes(tmp_path):
    from pydicom.uid import JPEGLosslessSV1

    stored = pydicom.dcmread(write_dicom(_bone_image(), tmp_path / "raw.dcm", bits_stored=12)).pixel_array
    _, target = _compressed_copy(tmp_path, "jll", JPEGLosslessSV1, jpeg_lossless(stored, precision=12))
    assert pydicom.dcmread(target).file_meta.TransferSyntaxUID == JPEGLosslessSV1
    assert np.array_equal(pydicom.dcmread(target).pixel_array, stored)
    film = read_radiograph(target)
    assert film.pixels[30, 20] > film.pixels[2, 2] + 0.5


@pytest.mark.parametrize("syntax_name", ["RLELossless", "JPEG2000Lossless"])
def test_rle_and_jpeg2000_dicoms_decode(tmp_path, syntax_name):
    import pydicom.uid

    syntax = getattr(pydicom.uid, syntax_name)
    source, target = _compressed_copy(tmp_path, syntax_name, syntax)
    assert pydicom.dcmread(target).file_meta.TransferSyntaxUID == syntax
    assert np.allclose(read_radiograph(target).pixels, read_radiograph(source).pixels)


def test_jpeg_ls_dicom_decodes():
    from pydicom.data import get_testdata_file

    path = get_testdata_file("MR_small_jpeg_ls_lossless.dcm")
    reference = get_testdata_file("MR_small.dcm")
    assert np.allclose(read_radiograph(path, any_modality=True).pixels, read_radiograph(reference, any_modality=True).pixels)


def test_multiframe_is_refused(tmp_path):
    path = write_dicom(_bone_image(), tmp_path / "mf.dcm")
    ds = pydicom.dcmread(path)
    ds.NumberOfFrames = 2
    ds.PixelData = ds.PixelData * 2
    ds.save_as(path)
    with pytest.raises(RadiographError, match="multi-frame"):
        read_radiograph(path)


@pytest.mark.parametrize("mode,dtype", [("L", np.uint8), ("I;16", np.uint16)])
def test_png_8_and_16_bit(tmp_path, mode, dtype):
    top = np.iinfo(dtype).max
    array = (np.tile(np.linspace(0.1, 0.8, 40), (30, 1)) * top).astype(dtype)
    path = tmp_path / "f.png"
    Image.fromarray(array).save(path)
    film = read_radiograph(path)
    assert film.pixels.shape == (30, 40)
    if dtype == np.uint8:
        assert np.allclose(film.pixels, array / 255.0)
    else:  # 16-bit is stretched over its range
        assert film.pixels.min() == 0.0 and film.pixels.max() == pytest.approx(1.0)
    assert film.spacing_mm is None and film.view is None


def test_rgb_jpeg_and_tiff_become_grey(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=95)
    Image.fromarray(rgb[..., 0]).save(tmp_path / "g.tiff")
    assert read_radiograph(tmp_path / "c.jpg").pixels.ndim == 2
    assert np.allclose(read_radiograph(tmp_path / "g.tiff").pixels, 200 / 255.0)


def test_view_flag_overrides_the_file(tmp_path):
    path = write_dicom(_bone_image(), tmp_path / "v.dcm", view="AP")
    assert read_radiograph(path, view="lat").view == "LAT"


@pytest.mark.parametrize("name,content,message", [
    ("empty.dcm", b"", "empty"),
    ("text.png", b"this is not an image at all", "not a readable image"),
    ("junk.dcm", b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage", "DICOM"),
])
def test_bad_files_give_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RadiographError, match=message) as info:
        read_radiograph(path)
    assert str(path) in str(info.value)


def test_truncated_files_give_one_clear_error(tmp_path):
    Image.fromarray((np.random.default_rng(0).random((200, 200)) * 255).astype(np.uint8)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(RadiographError, match="t.png"):
        read_radiograph(tmp_path / "t.png")
    dicom = write_dicom(_bone_image(200, 200), tmp_path / "t.dcm")
    raw = dicom.read_bytes()
    dicom.write_bytes(raw[: len(raw) - 20000])
    with pytest.raises(RadiographError, match="t.dcm"):
        read_radiograph(dicom)


def test_missing_file(tmp_path):
    with pytest.raises(RadiographError, match="no such file"):
        read_radiograph(tmp_path / "nope.png")
