// The component's entry point: the `deduper` export of world `deduper-plugin`.
//
// jco componentize bundles this file and the modules it imports; the import below is the
// world's `log` interface, provided by the host.
import { log } from 'photosync:plugin/log@0.1.1';

import { SettingError, decide, hex, parseSettings } from './policy.js';

export const deduper = {
  /** SHA-256 of `data` as 64 lower-case hex characters, computed by the engine's Web Crypto. */
  async digest(data) {
    return hex(await crypto.subtle.digest('SHA-256', data));
  },

  decide(settings, input) {
    let config;
    try {
      config = parseSettings(settings);
    } catch (error) {
      if (error instanceof SettingError) {
        // A thrown value becomes the `err` side of the WIT result.
        throw { tag: 'invalid-setting', val: error.message };
      }
      throw { tag: 'internal', val: `keep-manual failed (${error}); this is a bug in the plugin` };
    }
    const decision = decide(config, input);
    log('debug', `${input.attribute}: ${decision.tag}`);
    return decision;
  },
};
