"""A photosync deduper with one simple policy: write when the uploaded photo changed since
photosync last wrote it, and never write what the directory already holds.

`digest` is SHA-256; `decide` follows the rules in README.md. The host keeps the state this
plugin returns, per entry and attribute, and passes it back on the next decision.

componentize-py generates the `wit_world` package from wit/ when it builds the component.
"""

import hashlib
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.deduper import (Decision_NeedOutput, Decision_Skip, Decision_Write,
                                       SkipReason, SyncState)
from wit_world.imports import log
from wit_world.imports.types import PluginError_InvalidSetting

#: How many hex characters of a digest a reason shows.
SHORT = 8


class Deduper(exports.Deduper):
    def digest(self, data):
        return hashlib.sha256(data).hexdigest()

    def decide(self, settings, input):
        undo_manual_changes = parse_settings(settings)
        attribute = input.attribute
        current = input.current_digests
        state = input.state
        # 1. The same photo as last time: nothing to do, unless someone changed the directory's
        #    value by hand and `undo-manual-changes` asks for it to be put back.
        if (state is not None and state.source_digest == input.source_digest
                and (not undo_manual_changes or current == [state.written_digest])):
            return skip(state, "the source photo (sha256 %s) is unchanged since photosync last "
                               "wrote it to %s" % (input.source_digest[:SHORT], attribute))
        # 2. The remaining rules compare the rendition: ask the host to transform first.
        output = input.output_digest
        if output is None:
            return Decision_NeedOutput()
        new_state = SyncState(source_digest=input.source_digest, written_digest=output)
        # 3. The directory already holds this very rendition.
        if current == [output]:
            return skip(new_state, "%s already holds this rendition (sha256 %s), so nothing is "
                                   "written" % (attribute, output[:SHORT]))
        # 4. Otherwise write it.
        log.log(log.Level.DEBUG, "%s: writing the rendition sha256 %s." % (attribute, output[:SHORT]))
        return Decision_Write(new_state)


def parse_settings(settings):
    """Reads the settings: `undo-manual-changes`, `true` or `false` (the default)."""
    undo = False
    for setting in settings:
        if setting.key != "undo-manual-changes":
            raise Err(PluginError_InvalidSetting(
                "the setting %s is unknown; this plugin understands undo-manual-changes"
                % json.dumps(setting.key)))
        value = setting.value.strip()
        if value not in ("true", "false"):
            raise Err(PluginError_InvalidSetting(
                "the setting `undo-manual-changes` must be true or false, not %s"
                % json.dumps(setting.value)))
        undo = value == "true"
    return undo


def skip(state, reason):
    return Decision_Skip(SkipReason(state=state, reason=reason))
