"""Every coded concept the DICOM outputs use, in one place.

Standard codes come from pydicom's code dictionary, which is generated from DICOM PS3.16 (so each one below is a
code the standard itself uses): SNOMED CT (``SCT``) for the Cobb angle, the spine's regions, the vertebrae and the
discs; DICOM (``DCM``) for the report's structure, heights and angles; UCUM for units. Where no standard code exists
(lordosis, kyphosis, sacral slope, wedge angle, slip, the Meyerding and Genant grades, the AASCE protocol's angles,
S1 and the transitional T13/L6 as levels) a *local* code is used, in the private coding scheme ``99SPINE``
(PS3.3 8.2: designators beginning with 99 are local), declared in every object's Coding Scheme Identification
Sequence. docs/DICOM_CODES.md lists them all.
"""

from __future__ import annotations

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

LOCAL = "99SPINE"
LOCAL_NAME = "spine-measure local codes"


def local(value: str, meaning: str) -> Code:
    return Code(value, LOCAL, meaning)


# units
DEGREE, MILLIMETRE, PERCENT, NO_UNITS = codes.UCUM.Degree, codes.UCUM.Millimeter, codes.UCUM.Percent, codes.UCUM.NoUnits
PIXEL = Code("{px}", "UCUM", "pixels")  # a UCUM annotation (dimensionless): lengths of films without a spacing

# report structure and standard measurements
PROCEDURE = codes.cid100.XRUnspecifiedBodyRegion
COBB_ANGLE = codes.SCT.CobbAngle  # SCT 285285000
HEIGHT = codes.DCM.Height  # DCM 121207
ANGLE = codes.DCM.Angle  # DCM 110859
SPINE = codes.SCT.Spine
REGIONS = {"proximal_thoracic": codes.SCT.ThoracicSpine, "main_thoracic": codes.SCT.ThoracicSpine,
           "thoracolumbar_lumbar": codes.SCT.ThoracoLumbarSpine, "lumbar": codes.SCT.LumbarSpine,
           "thoracic": codes.SCT.ThoracicSpine, "cervical": codes.SCT.CervicalSpine}

# local measurement concepts
LUMBAR_LORDOSIS = local("LL", "Lumbar lordosis angle")
THORACIC_KYPHOSIS = local("TK", "Thoracic kyphosis angle")
SACRAL_SLOPE = local("SS", "Sacral slope")
CERVICAL_LORDOSIS = local("CL", "Cervical lordosis angle")
AASCE_ANGLES = (local("AASCE-PT", "Cobb angle, AASCE 2019 protocol, proximal thoracic"),
                local("AASCE-MT", "Cobb angle, AASCE 2019 protocol, main thoracic"),
                local("AASCE-TL", "Cobb angle, AASCE 2019 protocol, thoracolumbar/lumbar"))
HEIGHTS = {"height_anterior": local("HA", "Vertebral body anterior height"),
           "height_middle": local("HM", "Vertebral body middle height"),
           "height_posterior": local("HP", "Vertebral body posterior height"),
           "height_left": local("HL", "Vertebral body left height"),
           "height_right": local("HR", "Vertebral body right height")}
WEDGE = local("WEDGE", "Vertebral wedge angle")
TILT = local("TILT", "Vertebral tilt")
GENANT = local("GENANT", "Genant semiquantitative grade")
DISC_ANGLE = local("DISCANGLE", "Intervertebral angle")
DISC_HEIGHTS = {"height_anterior": local("DHA", "Disc anterior height"), "height_posterior": local("DHP", "Disc posterior height"),
                "height_left": local("DHL", "Disc left height"), "height_right": local("DHR", "Disc right height")}
SLIP = local("SLIP", "Vertebral slip")
MEYERDING = local("MEYERDING", "Meyerding grade")
UPPER_END = local("UEV", "Upper end vertebra")
LOWER_END = local("LEV", "Lower end vertebra")
APEX = local("APEX", "Apical vertebra")
CORNERS = local("CORNERS", "Vertebral body corners")
ENDPLATE = local("ENDPLATE", "Endplate line")
LEVEL = local("LEVEL", "Vertebral level")
CURVE = local("CURVE", "Scoliotic curve")


def vertebra(level: str) -> Code:
    """SNOMED CT code of a vertebra (C1-L5), else a local one (S1, T13, L6)."""
    code = getattr(codes.SCT, f"{level}Vertebra", None)
    return code if code is not None else local(level, f"{level} vertebra")


def disc(upper: str, lower: str) -> Code:
    """SNOMED CT code of the disc between two levels, else a local one."""
    code = getattr(codes.SCT, f"{upper}{lower}Disc", None)
    return code if code is not None else local(f"{upper}-{lower}", f"{upper}-{lower} intervertebral disc")
