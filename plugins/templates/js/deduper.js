// A photosync deduper with one simple policy: write when the uploaded photo changed since
// photosync last wrote it, and never write what the directory already holds.
//
// `digest` is SHA-256 (the engine's Web Crypto); `decide` follows the rules in README.md. The
// host keeps the state this plugin returns, per entry and attribute, and passes it back on the
// next decision.
import { log } from 'photosync:plugin/log@{{wit-version}}';

/** How many hex characters of a digest a reason shows. */
const SHORT = 8;

export const deduper = {
  /** An async export works: StarlingMonkey runs its event loop until the promise settles. */
  async digest(data) {
    const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  },

  decide(settings, input) {
    const undoManualChanges = parseSettings(settings);
    const { attribute, sourceDigest, outputDigest, state, currentDigests } = input;
    // 1. The same photo as last time: nothing to do, unless someone changed the directory's
    //    value by hand and `undo-manual-changes` asks for it to be put back.
    if (
      state !== undefined &&
      state.sourceDigest === sourceDigest &&
      (!undoManualChanges || holdsOnly(currentDigests, state.writtenDigest))
    ) {
      return skip(
        state,
        `the source photo (sha256 ${short(sourceDigest)}) is unchanged since photosync last wrote it to ${attribute}`,
      );
    }
    // 2. The remaining rules compare the rendition: ask the host to transform first.
    if (outputDigest === undefined) {
      return { tag: 'need-output' };
    }
    const newState = { sourceDigest, writtenDigest: outputDigest };
    // 3. The directory already holds this very rendition.
    if (holdsOnly(currentDigests, outputDigest)) {
      return skip(
        newState,
        `${attribute} already holds this rendition (sha256 ${short(outputDigest)}), so nothing is written`,
      );
    }
    // 4. Otherwise write it.
    log('debug', `${attribute}: writing the rendition sha256 ${short(outputDigest)}.`);
    return { tag: 'write', val: newState };
  },
};

/** Reads the settings: `undo-manual-changes`, `true` or `false` (the default). */
function parseSettings(settings) {
  let undo = false;
  for (const { key, value } of settings) {
    if (key !== 'undo-manual-changes') {
      throw { tag: 'invalid-setting', val: `the setting ${JSON.stringify(key)} is unknown; this plugin understands undo-manual-changes` };
    }
    const text = value.trim();
    if (text !== 'true' && text !== 'false') {
      throw { tag: 'invalid-setting', val: `the setting \`undo-manual-changes\` must be true or false, not ${JSON.stringify(value)}` };
    }
    undo = text === 'true';
  }
  return undo;
}

/** Whether the attribute holds exactly one value, with digest `digest`. */
function holdsOnly(current, digest) {
  return current.length === 1 && current[0] === digest;
}

function skip(state, reason) {
  return { tag: 'skip', val: { state, reason } };
}

function short(digest) {
  return digest.slice(0, SHORT);
}
