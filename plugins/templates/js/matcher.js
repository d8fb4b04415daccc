// A photosync matcher: a photo named after an employee number (`12345.jpg`) belongs to the
// directory entry whose `employeeID` holds that number.
//
// `matchPhoto` turns a photo's metadata into criteria (the host searches the directory for them
// and requires exactly one entry); `photoNames` goes the other way, from an entry to the photo
// names that would match it. The settings are checked on every call: see README.md.
import { log } from 'photosync:plugin/log@{{wit-version}}';

/** The longest number taken for an employee number; no real one is longer. */
const MAX_DIGITS = 20;

/** How many characters of an untrusted name a message shows. */
const SHOWN_CHARS = 100;

export const matcher = {
  matchPhoto(settings, photo) {
    const config = parseSettings(settings);
    const stem = stemOf(photo.fileName);
    if (!isNumber(config, stem)) {
      return {
        tag: 'no-criteria',
        val:
          `${shown(photo.fileName)} is not named after an employee number: the name before the ` +
          `extension must be ${config.minDigits} to ${MAX_DIGITS} digits (setting min-digits)`,
      };
    }
    log('debug', `The photo ${shown(photo.fileName)} is named after ${config.attribute} ${stem}.`);
    // The value is passed as it is: escaping it for an LDAP filter is the host's job.
    return { tag: 'criteria', val: [{ attribute: config.attribute, value: stem }] };
  },

  photoNames(settings, entry) {
    const config = parseSettings(settings);
    const names = [];
    // Attribute names are compared ignoring case, as the directory does.
    for (const { name, values } of entry) {
      if (name.toLowerCase() !== config.attribute.toLowerCase()) continue;
      for (const value of values) {
        if (isNumber(config, value) && !names.includes(value)) names.push(value);
      }
    }
    return names;
  },
};

/** Reads the settings; an unknown key or a bad value is thrown as `invalid-setting`. */
function parseSettings(settings) {
  // attribute: the directory attribute that holds the number. minDigits: the fewest digits a
  // number must have, so that `1.jpg` or `2024.jpg` need not be someone.
  const config = { attribute: 'employeeID', minDigits: 4 };
  for (const { key, value } of settings) {
    if (key === 'attribute') {
      if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(value)) {
        throw invalid(`the setting \`attribute\` = ${JSON.stringify(value)} is not an attribute name such as employeeID`);
      }
      config.attribute = value;
    } else if (key === 'min-digits') {
      const text = value.trim();
      if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > MAX_DIGITS) {
        throw invalid(`the setting \`min-digits\` = ${JSON.stringify(value)} is not a whole number from 1 to ${MAX_DIGITS}`);
      }
      config.minDigits = Number(text);
    } else {
      throw invalid(`the setting ${JSON.stringify(key)} is unknown; this plugin understands attribute and min-digits`);
    }
  }
  return config;
}

/** Whether `text` looks like an employee number: only digits, neither too few nor too many. */
function isNumber(config, text) {
  return text.length >= config.minDigits && text.length <= MAX_DIGITS && /^[0-9]+$/.test(text);
}

/** The file name without its extension: `12345.jpg` -> `12345`; `.jpg` stays `.jpg`. */
function stemOf(fileName) {
  const dot = fileName.lastIndexOf('.');
  return dot > 0 ? fileName.slice(0, dot) : fileName;
}

/** Untrusted text for a message: quoted, with control characters escaped, cut short. */
function shown(text) {
  const cut = [...text].slice(0, SHOWN_CHARS).join('');
  return JSON.stringify(cut) + (cut.length < text.length ? '…' : '');
}

/** A thrown `{ tag, val }` becomes the `err` side of the WIT result. */
function invalid(reason) {
  return { tag: 'invalid-setting', val: reason };
}
