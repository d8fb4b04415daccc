// A photosync transformer that passes a JPEG through when it already fits the profile.
//
// Decoding and encoding JPEG in JavaScript inside the sandbox would need a codec library, so
// this starting point does neither: it accepts a baseline JPEG no larger than the profile's box
// and `max-bytes`, drops its metadata segments (Exif, ICC, XMP, comments; the orientation is
// not applied) and returns it; everything else is rejected with a reason. The fit is not
// applied: a photo within the box is returned at its own size. README.md says how to go further.
import { log } from 'photosync:plugin/log@{{wit-version}}';

/** Start-of-frame markers (SOF0 is baseline; the others are progressive, lossless, ...). */
const FRAMES = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

export const transformer = {
  transform(settings, photo, profile) {
    for (const { key } of settings) {
      throw reject('invalid-setting', `the setting ${JSON.stringify(key)} is unknown; this plugin has no settings`);
    }
    const { kept, width, height, quantiser } = readJpeg(photo);
    if (width > profile.maxWidth || height > profile.maxHeight) {
      throw reject(
        'cannot-fit',
        `the JPEG is ${width}x${height}, larger than the profile's ${profile.maxWidth}x${profile.maxHeight}, and this transformer does not resize`,
      );
    }
    if (kept.length > profile.maxBytes) {
      throw reject(
        'cannot-fit',
        `the JPEG is ${kept.length} bytes without metadata, more than the profile's max-bytes ${profile.maxBytes}, and this transformer does not re-encode`,
      );
    }
    log('debug', `Passed a ${width}x${height} JPEG through: ${kept.length} of its ${photo.length} bytes kept.`);
    return { jpeg: kept, width, height, quality: estimatedQuality(quantiser) };
  },
};

/**
 * Walks the segments before the first scan: returns the JPEG without its APP1-APP15 and comment
 * segments, its width and height, and the first value of its first quantisation table.
 */
function readJpeg(photo) {
  if (photo.length < 2 || photo[0] !== 0xff || photo[1] !== 0xd8) {
    const start = Array.from(photo.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw reject('unsupported-format', `the photo is not a JPEG (it starts with ${start || 'nothing'}); this transformer passes JPEGs through`);
  }
  const parts = [photo.subarray(0, 2)];
  let pos = 2;
  let size;
  let quantiser;
  for (;;) {
    if (pos + 4 > photo.length || photo[pos] !== 0xff) {
      throw reject('corrupt', `the JPEG's headers are damaged or cut off at byte ${pos}`);
    }
    const marker = photo[pos + 1];
    const length = (photo[pos + 2] << 8) | photo[pos + 3];
    const end = pos + 2 + length;
    if (length < 2 || end > photo.length) {
      throw reject('corrupt', `the segment at byte ${pos} runs past the end of the file`);
    }
    if (marker === 0xda) break;
    if (FRAMES.has(marker)) {
      if (marker !== 0xc0) {
        throw reject('unsupported-format', `the JPEG is not baseline (frame marker ff ${marker.toString(16)}); only baseline JPEGs pass through`);
      }
      if (length < 8) throw reject('corrupt', "the JPEG's frame header is cut off");
      size = { height: (photo[pos + 5] << 8) | photo[pos + 6], width: (photo[pos + 7] << 8) | photo[pos + 8] };
    }
    if (marker === 0xdb && quantiser === undefined && length >= 4) {
      quantiser = photo[pos + 4] >> 4 === 0 ? photo[pos + 5] : (photo[pos + 5] << 8) | photo[pos + 6];
    }
    // APP1-APP15 (Exif, ICC, XMP, Adobe, ...) and COM are metadata: dropped.
    if (!((marker >= 0xe1 && marker <= 0xef) || marker === 0xfe)) {
      parts.push(photo.subarray(pos, end));
    }
    pos = end;
  }
  if (size === undefined || size.width === 0 || size.height === 0) {
    throw reject('corrupt', 'the JPEG has no usable frame header before its first scan');
  }
  if (photo[photo.length - 2] !== 0xff || photo[photo.length - 1] !== 0xd9) {
    throw reject('corrupt', 'the JPEG does not end with an end-of-image marker: it is cut off');
  }
  parts.push(photo.subarray(pos));
  const kept = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    kept.set(part, at);
    at += part.length;
  }
  return { kept, width: size.width, height: size.height, quantiser };
}

/**
 * The IJG quality that gives this first luminance quantiser (the standard table's is 16); a
 * rough estimate, since the bytes are not re-encoded.
 */
function estimatedQuality(quantiser) {
  if (!quantiser) return 0;
  const scale = (quantiser * 100) / 16;
  const quality = scale <= 100 ? (200 - scale) / 2 : 5000 / scale;
  return Math.max(1, Math.min(100, Math.round(quality)));
}

/** A rejection, thrown as the `err` side of the WIT result. */
function reject(tag, reason) {
  return { tag, val: reason };
}
