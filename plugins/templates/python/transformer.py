"""A photosync transformer that passes a JPEG through when it already fits the profile.

Decoding and encoding JPEG in pure Python inside the sandbox would be slow and long, so this
starting point does neither: it accepts a baseline JPEG no larger than the profile's box and
`max-bytes`, drops its metadata segments (Exif, ICC, XMP, comments; the orientation is not
applied) and returns it; everything else is rejected with a reason. The fit is not applied: a
photo within the box is returned at its own size. README.md says how to go further.

componentize-py generates the `wit_world` package from wit/ when it builds the component.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.transformer import (Rejection_CannotFit, Rejection_Corrupt,
                                           Rejection_InvalidSetting, Rejection_UnsupportedFormat,
                                           Rendition)
from wit_world.imports import log

#: Start-of-frame markers (SOF0 is baseline; the others are progressive, lossless, ...).
_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class Transformer(exports.Transformer):
    def transform(self, settings, photo, profile):
        for setting in settings:
            raise Err(Rejection_InvalidSetting(
                "the setting %s is unknown; this plugin has no settings" % json.dumps(setting.key)))
        kept, width, height, quantiser = read_jpeg(photo)
        if width > profile.max_width or height > profile.max_height:
            raise Err(Rejection_CannotFit(
                "the JPEG is %dx%d, larger than the profile's %dx%d, and this transformer does not "
                "resize" % (width, height, profile.max_width, profile.max_height)))
        if len(kept) > profile.max_bytes:
            raise Err(Rejection_CannotFit(
                "the JPEG is %d bytes without metadata, more than the profile's max-bytes %d, and "
                "this transformer does not re-encode" % (len(kept), profile.max_bytes)))
        quality = estimated_quality(quantiser)
        log.log(log.Level.DEBUG, "Passed a %dx%d JPEG through: %d of its %d bytes kept."
                % (width, height, len(kept), len(photo)))
        return Rendition(jpeg=kept, width=width, height=height, quality=quality)


def read_jpeg(photo):
    """Walks the segments before the first scan: returns the JPEG without its APP1-APP15 and
    comment segments, its width and height, and the first value of its first quantisation table.
    """
    if photo[:2] != b"\xff\xd8":
        raise Err(Rejection_UnsupportedFormat(
            "the photo is not a JPEG (it starts with %s); this transformer passes JPEGs through"
            % (photo[:4].hex(" ") or "nothing")))
    kept = bytearray(photo[:2])
    pos, size, quantiser = 2, None, None
    while True:
        if pos + 4 > len(photo) or photo[pos] != 0xFF:
            raise Err(Rejection_Corrupt("the JPEG's headers are damaged or cut off at byte %d" % pos))
        marker, length = photo[pos + 1], int.from_bytes(photo[pos + 2:pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(photo):
            raise Err(Rejection_Corrupt("the segment at byte %d runs past the end of the file" % pos))
        if marker == 0xDA:
            break
        if marker in _FRAMES:
            if marker != 0xC0:
                raise Err(Rejection_UnsupportedFormat(
                    "the JPEG is not baseline (frame marker ff %02x); only baseline JPEGs pass "
                    "through" % marker))
            if length < 8:
                raise Err(Rejection_Corrupt("the JPEG's frame header is cut off"))
            height = int.from_bytes(photo[pos + 5:pos + 7], "big")
            width = int.from_bytes(photo[pos + 7:pos + 9], "big")
            size = (width, height)
        if marker == 0xDB and quantiser is None and length >= 4:
            precision = photo[pos + 4] >> 4
            quantiser = photo[pos + 5] if precision == 0 else int.from_bytes(photo[pos + 5:pos + 7], "big")
        # APP1-APP15 (Exif, ICC, XMP, Adobe, ...) and COM are metadata: dropped.
        if not (0xE1 <= marker <= 0xEF or marker == 0xFE):
            kept += photo[pos:end]
        pos = end
    if size is None or 0 in size:
        raise Err(Rejection_Corrupt("the JPEG has no usable frame header before its first scan"))
    if photo[-2:] != b"\xff\xd9":
        raise Err(Rejection_Corrupt("the JPEG does not end with an end-of-image marker: it is cut off"))
    kept += photo[pos:]
    return bytes(kept), size[0], size[1], quantiser


def estimated_quality(quantiser):
    """The IJG quality that gives this first luminance quantiser (the standard table's is 16); a
    rough estimate, since the bytes are not re-encoded."""
    if not quantiser:
        return 0
    scale = quantiser * 100 / 16
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return max(1, min(100, round(quality)))
