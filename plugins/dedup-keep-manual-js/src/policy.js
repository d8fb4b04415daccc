// The keep-manual policy in plain JavaScript: settings in, a decision out.
//
// Nothing here imports the WIT world, so `node --test` runs it directly. Values have the shapes
// jco gives the WIT types: records are objects with camelCase fields, a variant is `{ tag, val }`,
// an absent option is `undefined` (`null` with jco's QuickJS backend, hence the `== null` tests).

/** The setting keys this plugin understands. */
export const KEYS = ['refill-empty'];

/** How many hex characters of a digest a reason shows. */
const SHORT = 8;

/** A setting is missing, unknown or unusable; the message names the key. */
export class SettingError extends Error {}

/** Parses the host's `[{ key, value }]` settings; every key must be known and given once. */
export function parseSettings(settings) {
  const seen = new Map();
  for (const { key, value } of settings) {
    if (!KEYS.includes(key)) {
      throw new SettingError(
        `the setting ${JSON.stringify(key)} is unknown; this plugin understands ${KEYS.join(', ')}`,
      );
    }
    if (seen.has(key)) {
      throw new SettingError(`the setting "${key}" is given more than once`);
    }
    seen.set(key, value);
  }
  return { refillEmpty: parseBool('refill-empty', seen.get('refill-empty') ?? 'true') };
}

function parseBool(key, value) {
  const text = value.trim().toLowerCase();
  if (text === 'true' || text === 'false') {
    return text === 'true';
  }
  throw new SettingError(`the setting "${key}" must be true or false, not ${JSON.stringify(value)}`);
}

const short = (digest) => `sha256 ${digest.slice(0, SHORT)}`;
const isOnly = (digests, digest) => digests.length === 1 && digests[0] === digest;
const write = (state) => ({ tag: 'write', val: state });
const skip = (state, reason) => ({ tag: 'skip', val: { state, reason } });
const needOutput = () => ({ tag: 'need-output' });

function held(current) {
  return current.length === 1 ? `a photo (${short(current[0])})` : `${current.length} values`;
}

/**
 * Decides for one attribute. The directory's value is photosync's to replace only while it still
 * holds what photosync last wrote; a value put there or changed by anyone else is kept.
 */
export function decide(config, input) {
  const { attribute, sourceDigest: source, outputDigest: output, state } = input;
  const current = input.currentDigests;
  const fresh = output == null ? undefined : { sourceDigest: source, writtenDigest: output };

  // 1. Nothing to overwrite: fill the attribute (unless the person removed photosync's photo).
  if (current.length === 0) {
    if (state != null && !config.refillEmpty) {
      return skip(state, `${attribute} is empty although photosync wrote it (${short(state.writtenDigest)}); `
        + 'someone removed the photo and refill-empty = false leaves it empty');
    }
    return fresh === undefined ? needOutput() : write(fresh);
  }
  // 2. The directory still holds what photosync wrote: photosync may replace it.
  if (state != null && isOnly(current, state.writtenDigest)) {
    if (state.sourceDigest === source) {
      return skip(state, `the source photo (${short(source)}) is unchanged and ${attribute} still `
        + `holds the rendition photosync wrote (${short(state.writtenDigest)})`);
    }
    if (fresh === undefined) {
      return needOutput();
    }
    if (output === state.writtenDigest) {
      return skip(fresh, `${attribute} already holds this rendition (${short(output)}), so nothing is written`);
    }
    return write(fresh);
  }
  // 3. Someone else's photo. If it is this very rendition, photosync adopts it; otherwise keep it.
  if (fresh === undefined) {
    return needOutput();
  }
  if (isOnly(current, output)) {
    return skip(fresh, `${attribute} already holds this rendition (${short(output)}); photosync `
      + 'takes it as its own from now on');
  }
  const why = state == null
    ? `${attribute} holds ${held(current)} that photosync did not write`
    : `${attribute} was changed outside photosync (it wrote ${short(state.writtenDigest)}, the `
      + `directory holds ${held(current)})`;
  return skip(state, `${why}; the policy keep-manual never replaces it, so remove the value to let `
    + 'photosync fill it again');
}

/** Lower-case hex of a digest's bytes. */
export function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}
