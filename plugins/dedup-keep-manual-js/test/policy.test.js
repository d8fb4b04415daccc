// Unit tests of the policy, run by `npm test` (node --test) without building the component.
// The component itself is tested with cases.toml.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SettingError, decide, hex, parseSettings } from '../src/policy.js';

const defaults = parseSettings([]);
const state = { sourceDigest: '51515151', writtenDigest: 'a1a1a1a1' };
const input = (fields) => ({ attribute: 'thumbnailPhoto', sourceDigest: '52525252', currentDigests: [], ...fields });

test('an empty attribute is filled once the rendition is known', () => {
  assert.deepEqual(decide(defaults, input({})), { tag: 'need-output' });
  assert.deepEqual(decide(defaults, input({ outputDigest: 'a2a2a2a2' })), {
    tag: 'write',
    val: { sourceDigest: '52525252', writtenDigest: 'a2a2a2a2' },
  });
});

test("photosync's own photo is replaced by a new rendition", () => {
  const decision = decide(defaults, input({ outputDigest: 'a2a2a2a2', state, currentDigests: ['a1a1a1a1'] }));
  assert.equal(decision.tag, 'write');
});

test('a photo changed by hand is kept with the old state', () => {
  const decision = decide(defaults, input({ outputDigest: 'a2a2a2a2', state, currentDigests: ['e0e0e0e0'] }));
  assert.equal(decision.tag, 'skip');
  assert.equal(decision.val.state, state);
  assert.match(decision.val.reason, /changed outside photosync/);
});

test('an absent option may be undefined or null (QuickJS backend)', () => {
  const decision = decide(defaults, input({ outputDigest: null, state: null, currentDigests: ['e0e0e0e0'] }));
  assert.deepEqual(decision, { tag: 'need-output' });
});

test('need-output is never the answer once the output digest is given', () => {
  for (const currentDigests of [[], ['a1a1a1a1'], ['e0e0e0e0'], ['a1a1a1a1', 'e0e0e0e0']]) {
    for (const st of [undefined, state]) {
      for (const refill of ['true', 'false']) {
        const config = parseSettings([{ key: 'refill-empty', value: refill }]);
        const decision = decide(config, input({ outputDigest: 'a2a2a2a2', state: st, currentDigests }));
        assert.notEqual(decision.tag, 'need-output');
      }
    }
  }
});

test('settings are checked', () => {
  assert.throws(() => parseSettings([{ key: 'policy', value: 'x' }]), SettingError);
  assert.throws(
    () => parseSettings([{ key: 'refill-empty', value: 'true' }, { key: 'refill-empty', value: 'false' }]),
    /given more than once/,
  );
  assert.equal(parseSettings([{ key: 'refill-empty', value: ' False ' }]).refillEmpty, false);
});

test('digests print as lower-case hex', async () => {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'));
  assert.equal(hex(digest), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});
