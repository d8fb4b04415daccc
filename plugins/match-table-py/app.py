"""The component's entry point: the `matcher` export of world `matcher-plugin`, converting between
the WIT types and match_table's plain Python values.

componentize-py generates the `wit_world` package from ../../wit when it builds the component.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.matcher import Criterion, MatchOutcome_Criteria, MatchOutcome_NoCriteria
from wit_world.imports import log
from wit_world.imports.types import PluginError_Internal, PluginError_InvalidSetting

import match_table


def _config(settings):
    try:
        return match_table.parse_settings((s.key, s.value) for s in settings)
    except match_table.SettingError as error:
        raise Err(PluginError_InvalidSetting(str(error))) from None


def _internal(error):
    """An unexpected exception becomes an `internal` error naming it, not a trap."""
    return Err(PluginError_Internal("match-table failed (%s: %s); this is a bug in the plugin"
                                    % (type(error).__name__, error)))


class Matcher(exports.Matcher):
    def match_photo(self, settings, photo):
        config = _config(settings)
        try:
            outcome = match_table.match_photo(config, photo.file_name)
        except Exception as error:
            raise _internal(error) from None
        if outcome[0] == "criteria":
            _, criteria, by = outcome
            log.log(log.Level.DEBUG, "%s matched by %s" % (match_table.quote(photo.file_name), by))
            return MatchOutcome_Criteria([Criterion(attribute=a, value=v) for a, v in criteria])
        return MatchOutcome_NoCriteria(outcome[1])

    def photo_names(self, settings, entry):
        config = _config(settings)
        try:
            return match_table.photo_names(config, [(a.name, a.values) for a in entry])
        except Exception as error:
            raise _internal(error) from None
