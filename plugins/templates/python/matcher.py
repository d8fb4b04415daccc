"""A photosync matcher: a photo named after an employee number (`12345.jpg`) belongs to the
directory entry whose `employeeID` holds that number.

`match_photo` turns a photo's metadata into criteria (the host searches the directory for them
and requires exactly one entry); `photo_names` goes the other way, from an entry to the photo
names that would match it. The settings are checked on every call: see README.md.

componentize-py generates the `wit_world` package from wit/ when it builds the component.
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.matcher import Criterion, MatchOutcome_Criteria, MatchOutcome_NoCriteria
from wit_world.imports import log
from wit_world.imports.types import PluginError_InvalidSetting

#: The longest number taken for an employee number; no real one is longer.
MAX_DIGITS = 20

#: How many characters of an untrusted name a message shows.
SHOWN_CHARS = 100

_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]*\Z")


class Config:
    """The settings, validated: an unknown key or a bad value is `invalid-setting`."""

    def __init__(self, settings):
        #: The directory attribute that holds the number (setting `attribute`).
        self.attribute = "employeeID"
        #: The fewest digits a number must have (setting `min-digits`), so that `1.jpg` or
        #: `2024.jpg` need not be someone.
        self.min_digits = 4
        for setting in settings:
            key, value = setting.key, setting.value
            if key == "attribute":
                if not _ATTRIBUTE.match(value):
                    raise invalid("the setting `attribute` = %s is not an attribute name such as "
                                  "employeeID" % json.dumps(value))
                self.attribute = value
            elif key == "min-digits":
                text = value.strip()
                if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_DIGITS):
                    raise invalid("the setting `min-digits` = %s is not a whole number from 1 to %d"
                                  % (json.dumps(value), MAX_DIGITS))
                self.min_digits = int(text)
            else:
                raise invalid("the setting %s is unknown; this plugin understands attribute and "
                              "min-digits" % json.dumps(key))

    def is_number(self, text):
        """Whether `text` looks like an employee number: only digits, neither too few nor too many."""
        return (self.min_digits <= len(text) <= MAX_DIGITS and text.isascii()
                and text.isdigit())


class Matcher(exports.Matcher):
    def match_photo(self, settings, photo):
        config = Config(settings)
        name = stem(photo.file_name)
        if not config.is_number(name):
            return MatchOutcome_NoCriteria(
                "%s is not named after an employee number: the name before the extension must be "
                "%d to %d digits (setting min-digits)"
                % (shown(photo.file_name), config.min_digits, MAX_DIGITS))
        log.log(log.Level.DEBUG, "The photo %s is named after %s %s."
                % (shown(photo.file_name), config.attribute, name))
        # The value is passed as it is: escaping it for an LDAP filter is the host's job.
        return MatchOutcome_Criteria([Criterion(attribute=config.attribute, value=name)])

    def photo_names(self, settings, entry):
        config = Config(settings)
        names = []
        # Attribute names are compared ignoring case, as the directory does.
        for attribute in entry:
            if attribute.name.lower() != config.attribute.lower():
                continue
            for value in attribute.values:
                if config.is_number(value) and value not in names:
                    names.append(value)
        return names


def stem(file_name):
    """The file name without its extension: `12345.jpg` -> `12345`; `.jpg` stays `.jpg`."""
    dot = file_name.rfind(".")
    return file_name[:dot] if dot > 0 else file_name


def shown(text):
    """Untrusted text for a message: quoted, with control characters escaped, cut short."""
    cut = text[:SHOWN_CHARS]
    return json.dumps(cut, ensure_ascii=False) + ("…" if len(cut) < len(text) else "")


def invalid(reason):
    """An `invalid-setting` error, raised as the `err` side of the WIT result."""
    return Err(PluginError_InvalidSetting(reason))
