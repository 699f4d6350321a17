"""Read a radiograph (DICOM, PNG, JPEG, TIFF) into one typed :class:`Radiograph`.

pixels: (H, W) float32 in [0, 1], bone bright (MONOCHROME1 is inverted).
DICOM: modality LUT, then VOI LUT sequence or the first window (linear,
linear exact or sigmoid), else the full stored range. Plain images: 8-bit
divided by 255; 16-bit and float stretched from their min to their max.
The file's type comes from its content (the DICOM preamble, image magic
numbers), never from its name. Only radiographs are read as films: CR and
DX images and secondary captures of radiographs; any other DICOM object is
refused with one line naming its modality (:func:`radiograph_kind`).
Every failure is a :class:`RadiographError` whose message starts with the file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spine.dicomheader import dicom_age, dicom_sex, dicom_spacing, patient_key
from spine.geometry import VIEWS

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ""}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
RADIOGRAPH_MODALITIES = ("CR", "DX", "DR", "RG")
SPACING_RANGE_MM = (0.05, 1.0)  # pixel sizes of radiograph detectors and film digitisers; outside it a header is wrong
_CR, _DX_PRESENTATION, _DX_PROCESSING = "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1.1"
_RADIOGRAPH_CLASSES = (_CR, _DX_PRESENTATION, _DX_PROCESSING)
_SECONDARY_CAPTURE = ("1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.7.2", "1.2.840.10008.5.1.4.1.1.7.3")
_VIEW_CODES = {"AP": "AP", "PA": "PA", "LL": "LAT", "RL": "LAT", "LAT": "LAT", "LATERAL": "LAT", "LLD": "LAT", "RLD": "LAT"}


class RadiographError(ValueError):
    """A file that cannot be read as a radiograph; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


@dataclass(frozen=True, eq=False)
class Radiograph:
    """One film. spacing_mm is (row, col) = (y, x) mm per pixel; spacing_source names the DICOM tag it came from."""

    pixels: np.ndarray
    path: str
    spacing_mm: tuple[float, float] | None = None
    spacing_source: str | None = None
    view: str | None = None
    age: float | None = None
    sex: str | None = None
    patient_key: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


def read_radiograph(path: str | Path, view: str | None = None, any_modality: bool = False) -> Radiograph:
    """Read ``path``; ``view`` ('AP', 'PA', 'LAT'), when given, overrides what the file says. any_modality: read
    the pixels of any DICOM image (tests of decoding), not only radiographs."""
    path = Path(path)
    if view is not None and view.upper() not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if not path.is_file():
        raise RadiographError(path, "no such file")
    if path.stat().st_size == 0:
        raise RadiographError(path, "the file is empty")
    film = _read_dicom(path, any_modality) if _looks_like_dicom(path) else _read_image(path)
    if view is not None:
        film = Radiograph(**{**film.__dict__, "view": view.upper()})
    return film


_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM")


def sniff(path: str | Path) -> str | None:
    """'dicom', 'image' or None, from the file's first bytes (a DICOM file without its preamble counts when its
    name ends in .dcm/.dicom and it is no known image)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return None
    if head[128:132] == b"DICM":
        return "dicom"
    if any(head.startswith(magic) for magic in _IMAGE_MAGIC):
        return "image"
    return "dicom" if Path(path).suffix.lower() in (".dcm", ".dicom") and head else None


def _looks_like_dicom(path: Path) -> bool:
    return sniff(path) == "dicom"


def dicom_kind(ds) -> str:
    """The object's modality and SOP class in words, e.g. 'CT, CT Image Storage'."""
    sop = str(ds.get("SOPClassUID", "") or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "") or "")
    modality = str(ds.get("Modality", "") or "").strip().upper()
    name = _uid_name(sop)
    return f"{modality or 'no modality'}" + (f", {name}" if name else "")


def radiograph_kind(ds) -> str | None:
    """None when the dataset is a radiograph we measure (CR, DX, or a secondary capture of a radiograph or of
    digitised film); else why not, in a few words naming its modality."""
    sop = str(ds.get("SOPClassUID", "") or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "") or "")
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if sop in _RADIOGRAPH_CLASSES:
        return None
    if sop in _SECONDARY_CAPTURE and (modality in RADIOGRAPH_MODALITIES or str(ds.get("ConversionType", "")).upper() == "DF"):
        return None
    if not sop and modality in RADIOGRAPH_MODALITIES:
        return None
    return f"{dicom_kind(ds)}: not a radiograph (only CR, DX and secondary captures of radiographs are measured)"


def _uid_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name if uid else ""
    return "" if name == uid else name


def _read_image(path: Path) -> Radiograph:
    from PIL import Image, UnidentifiedImageError

    with open(path, "rb") as handle:
        head = handle.read(8)
    if not any(head.startswith(magic) for magic in _IMAGE_MAGIC):
        raise RadiographError(path, "not a readable image or DICOM file (not PNG, JPEG, TIFF, BMP or DICOM)")
    Image.MAX_IMAGE_PIXELS = 400_000_000
    try:
        with Image.open(path) as img:
            img.load()
            array = _grey_array(img)
    except UnidentifiedImageError:
        raise RadiographError(path, "not a readable image or DICOM file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise RadiographError(path, f"corrupt or truncated image ({exc})") from None
    except Exception as exc:  # image plugins registered by other libraries can raise anything
        raise RadiographError(path, f"not a readable image or DICOM file ({type(exc).__name__}: {exc})") from None
    if array.size == 0 or array.ndim != 2:
        raise RadiographError(path, f"image has no usable pixels (shape {array.shape})")
    return Radiograph(pixels=normalise_image(array), path=str(path))


def _grey_array(img) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L"):
        return np.asarray(img)
    return np.asarray(img.convert("L"))


def normalise_image(array: np.ndarray) -> np.ndarray:
    """Grey pixels in [0, 1]: 8-bit divided by 255, anything else stretched from its min to its max."""
    if array.dtype == np.uint8:
        return (array.astype(np.float32) / 255.0)
    return _stretch(array.astype(np.float64))


def _stretch(array: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    lo = float(np.min(array)) if lo is None else lo
    hi = float(np.max(array)) if hi is None else hi
    if hi <= lo:
        return np.zeros(array.shape, dtype=np.float32)
    return np.clip((array - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def _read_dicom(path: Path, any_modality: bool = False) -> Radiograph:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
    except (InvalidDicomError, OSError, EOFError, ValueError, TypeError, KeyError) as exc:
        raise RadiographError(path, f"not a readable DICOM file ({exc})") from None
    refusal = None if any_modality else radiograph_kind(ds)
    if "PixelData" not in ds:
        raise RadiographError(path, f"DICOM object with no image ({dicom_kind(ds)}): not a radiograph")
    if refusal:
        raise RadiographError(path, refusal)
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "PALETTE COLOR":
        raise RadiographError(path, "palette colour DICOM image: not a radiograph")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise RadiographError(path, f"multi-frame DICOM ({frames} frames) is not supported; export one frame per file")
    pixels = _dicom_pixels(ds, path)
    spacing, source = dicom_spacing(ds)
    warnings_ = ()
    if spacing is not None and not plausible_spacing(spacing):
        warnings_ = (f"{source} {spacing[0]:g} x {spacing[1]:g} mm is not a radiograph's pixel size "
                     f"({SPACING_RANGE_MM[0]}-{SPACING_RANGE_MM[1]} mm): not used, lengths are in pixels",)
        spacing, source = None, None
    return Radiograph(
        pixels=pixels,
        path=str(path),
        spacing_mm=spacing,
        spacing_source=source,
        view=_VIEW_CODES.get(str(ds.get("ViewPosition", "")).strip().upper()),
        age=dicom_age(ds),
        sex=dicom_sex(ds),
        patient_key=patient_key(ds),
        warnings=warnings_,
    )


def _decode(ds, path: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for bad or undecodable data
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", syntax)
        raise RadiographError(path, f"cannot decode pixel data (transfer syntax {name}): {exc}") from None
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        array = array[..., :3].mean(axis=-1)
    if array.ndim != 2 or array.size == 0:
        raise RadiographError(path, f"unsupported pixel array shape {array.shape}")
    return array


def _dicom_pixels(ds, path: Path) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    array = apply_modality_lut(_decode(ds, path), ds).astype(np.float64)
    if "VOILUTSequence" in ds:
        out = _stretch(apply_voi_lut(array, ds, index=0, prefer_lut=True).astype(np.float64))
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        out = window(array, _first(ds.WindowCenter), _first(ds.WindowWidth), str(ds.get("VOILUTFunction", "LINEAR")))
    else:
        out = _stretch(array)
    if str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip() == "MONOCHROME1":
        out = 1.0 - out
    return out.astype(np.float32)


def _first(value) -> float:
    try:
        return float(value[0])
    except (TypeError, IndexError):
        return float(value)


def window(array: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 windowing into [0, 1]."""
    function = function.strip().upper()
    if function == "SIGMOID":
        return (1.0 / (1.0 + np.exp(-4.0 * (array - center) / max(width, 1e-6)))).astype(np.float32)
    if function == "LINEAR_EXACT":
        lo, hi = center - width / 2, center + width / 2
    else:
        width = max(width, 1.0)
        lo, hi = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    return _stretch(array, lo, hi)


def plausible_spacing(spacing) -> bool:
    """A (row, col) pixel size a radiograph can have: both within :data:`SPACING_RANGE_MM`."""
    return all(SPACING_RANGE_MM[0] <= float(s) <= SPACING_RANGE_MM[1] for s in spacing)
