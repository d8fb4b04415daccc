"""The match-table plugin's logic in plain Python: settings to rules, a file name to criteria,
an entry to photo names.

Nothing here knows the WIT types (app.py converts them), so this module runs and is tested with
any CPython 3.11 or newer, outside the component.
"""

import csv
import io
import re
from dataclasses import dataclass

#: The setting keys this plugin understands.
KEYS = ("table", "csv", "regex", "ignore-case")

#: Extensions dropped from a table key, so that `12345.jpg = ...` and `12345 = ...` mean the same.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp",
                    ".heic", ".heif")

#: File stems longer than this are not looked up: no real photo name is that long, and the limit
#: bounds the work a hostile name can cause a regular expression.
MAX_STEM_CHARS = 255

#: How many characters of untrusted text a message shows before cutting it short.
SHOWN_CHARS = 120

_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]*\Z")
_NUMERIC_OID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+\Z")


class SettingError(Exception):
    """A setting is missing, unknown or unusable; the message names the key and what is wrong."""


@dataclass(frozen=True)
class Row:
    """One mapping of the table: a file stem and the criteria it stands for."""

    #: The stem as the administrator wrote it (extension removed), returned by photo-names.
    name: str
    #: Where the row was written, e.g. `table line 3` or `csv row 2`, for messages.
    origin: str
    #: (attribute, value) pairs the entry must all satisfy; never empty.
    criteria: tuple


@dataclass(frozen=True)
class Expression:
    """One regular expression of the `regex` setting."""

    source: str
    compiled: re.Pattern
    #: (group name, attribute name) in the order the groups appear.
    groups: tuple


@dataclass(frozen=True)
class Config:
    """Validated settings."""

    #: Rows by folded key, in the order written (table first, then csv).
    rows: dict
    expressions: tuple
    ignore_case: bool

    def fold(self, text):
        return text.lower() if self.ignore_case else text


# --- showing untrusted text -----------------------------------------------------------------

def escape(text):
    """`text` with control and invisible characters escaped, cut after SHOWN_CHARS characters."""
    shown = []
    for index, char in enumerate(text):
        if index == SHOWN_CHARS:
            shown.append("…")
            break
        if char == "\\" or char == '"':
            shown.append("\\" + char)
        elif char == "\0":
            shown.append("\\0")
        elif char == "\n":
            shown.append("\\n")
        elif char == "\t":
            shown.append("\\t")
        elif char == "\r":
            shown.append("\\r")
        elif not char.isprintable():
            shown.append("\\u{%x}" % ord(char))
        else:
            shown.append(char)
    return "".join(shown)


def quote(text):
    return '"' + escape(text) + '"'


# --- settings -------------------------------------------------------------------------------

def is_attribute_name(name):
    """An LDAP attribute name: a letter then letters, digits and hyphens, or a numeric OID."""
    return bool(_ATTRIBUTE.match(name) or _NUMERIC_OID.match(name))


def parse_settings(pairs):
    """Parses (key, value) pairs; every key must be known and appear at most once."""
    values = {}
    for key, value in pairs:
        if key not in KEYS:
            raise SettingError("the setting %s is unknown; this plugin understands %s"
                               % (quote(key), ", ".join(KEYS)))
        if key in values:
            raise SettingError('the setting "%s" is given more than once' % key)
        values[key] = value
    ignore_case = parse_bool("ignore-case", values.get("ignore-case", "true"))
    if not any(values.get(key, "").strip() for key in ("table", "csv", "regex")):
        raise SettingError('give at least one of the settings "table", "csv" or "regex", '
                           'e.g. table = "12345.jpg = employeeID=12345"')
    fold = (lambda text: text.lower()) if ignore_case else (lambda text: text)
    rows = {}
    for row in parse_table(values.get("table", "")) + parse_csv(values.get("csv", "")):
        key = fold(row.name)
        if key in rows:
            raise SettingError("the name %s in %s is already mapped in %s; each name may appear "
                               "once" % (quote(row.name), row.origin, rows[key].origin))
        rows[key] = row
    expressions = parse_expressions(values.get("regex", ""), ignore_case)
    return Config(rows=rows, expressions=tuple(expressions), ignore_case=ignore_case)


def parse_bool(key, value):
    text = value.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise SettingError('the setting "%s" must be true or false, not %s' % (key, quote(value)))


def table_key(key, where):
    """A table key as a file stem: trimmed, a common image extension dropped."""
    if not key:
        raise SettingError("%s has no file name before the =" % where)
    if "/" in key:
        raise SettingError("%s: the file name %s has a /; give the name without a directory"
                           % (where, quote(key)))
    lowered = key.lower()
    for extension in IMAGE_EXTENSIONS:
        if lowered.endswith(extension) and len(key) > len(extension):
            return key[: -len(extension)]
    return key


def check_criterion(attribute, value, where):
    if not is_attribute_name(attribute):
        raise SettingError("%s: %s is not an attribute name (a letter followed by letters, digits "
                           "and hyphens, e.g. employeeID)" % (where, quote(attribute)))
    if not value:
        raise SettingError("%s: the value of %s is empty" % (where, attribute))


def parse_table(text):
    """`NAME = ATTRIBUTE=VALUE` lines; blank lines and lines starting with # are skipped."""
    rows = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = 'the setting "table", line %d (%s)' % (number, quote(line))
        name, equals, rest = line.partition("=")
        attribute, equals2, value = rest.partition("=")
        if not equals or not equals2:
            raise SettingError("%s is not of the form NAME = ATTRIBUTE=VALUE, e.g. "
                               "12345.jpg = employeeID=12345" % where)
        attribute, value = attribute.strip(), value.strip()
        check_criterion(attribute, value, where)
        rows.append(Row(name=table_key(name.strip(), where), origin="table line %d" % number,
                        criteria=((attribute, value),)))
    return rows


def parse_csv(text):
    """A CSV whose header names the attributes: `file,employeeID` then `12345.jpg,12345`."""
    if not text.strip():
        return []
    reader = csv.reader(io.StringIO(text.strip("\n")), strict=True)
    header = None
    rows = []
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if header is None:
                header = parse_header(cells)
                continue
            where = 'the setting "csv", row %d' % reader.line_num
            if len(cells) != len(header) + 1:
                raise SettingError("%s has %d cells, the header has %d"
                                   % (where, len(cells), len(header) + 1))
            criteria = tuple((attribute, value) for attribute, value in zip(header, cells[1:])
                             if value)
            if not criteria:
                raise SettingError("%s gives %s no attribute value" % (where, quote(cells[0])))
            rows.append(Row(name=table_key(cells[0], where), origin="csv row %d" % reader.line_num,
                            criteria=criteria))
    except csv.Error as error:
        raise SettingError('the setting "csv" is not valid CSV at row %d: %s'
                           % (reader.line_num, error)) from None
    if not rows:
        raise SettingError('the setting "csv" has a header but no rows')
    return rows


def parse_header(cells):
    where = 'the setting "csv", header'
    attributes = cells[1:]
    if not attributes:
        raise SettingError("%s must name the file column and at least one attribute, e.g. "
                           "file,employeeID" % where)
    seen = set()
    for attribute in attributes:
        check_criterion(attribute, "x", where)
        if attribute.lower() in seen:
            raise SettingError("%s names %s twice" % (where, attribute))
        seen.add(attribute.lower())
    return attributes


def parse_expressions(text, ignore_case):
    """One regular expression a line; blank lines are skipped."""
    expressions = []
    flags = re.IGNORECASE if ignore_case else 0
    lines = [line.strip() for line in text.splitlines()]
    for number, source in enumerate((line for line in lines if line), 1):
        where = 'the setting "regex", expression %d (%s)' % (number, quote(source))
        try:
            compiled = re.compile(source, flags)
        except re.error as error:
            raise SettingError("%s is not a valid regular expression: %s" % (where, error)) \
                from None
        names = sorted(compiled.groupindex.items(), key=lambda item: item[1])
        if not names:
            raise SettingError("%s has no named group; name each group after the attribute it "
                               "captures, e.g. (?P<employeeID>[0-9]+)" % where)
        groups = []
        for group, _ in names:
            attribute = group.replace("_", "-")
            if not is_attribute_name(attribute):
                raise SettingError("%s: the group name %s is not an attribute name" % (where, group))
            groups.append((group, attribute))
        expressions.append(Expression(source=source, compiled=compiled, groups=tuple(groups)))
    return expressions


# --- the two directions ---------------------------------------------------------------------

def file_stem(file_name):
    """Drops everything up to the last / and then the extension, if something precedes its dot."""
    name = file_name.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def match_photo(config, file_name):
    """("criteria", [(attribute, value)], by) or ("no-criteria", reason)."""
    stem = file_stem(file_name)
    if len(stem) > MAX_STEM_CHARS:
        return ("no-criteria", "%s is %d characters long without its extension; names longer than "
                "%d characters are not looked up" % (quote(file_name), len(stem), MAX_STEM_CHARS))
    row = config.rows.get(config.fold(stem))
    if row is not None:
        return ("criteria", list(row.criteria), row.origin)
    for number, expression in enumerate(config.expressions, 1):
        found = expression.compiled.fullmatch(stem)
        if found is None:
            continue
        criteria = [(attribute, found.group(group)) for group, attribute in expression.groups
                    if found.group(group)]
        if criteria:
            return ("criteria", criteria, "expression %d" % number)
    tried = []
    if config.rows:
        tried.append("is not in the table (%d names)" % len(config.rows))
    if config.expressions:
        shown = ", ".join(escape(e.source)[:60] for e in config.expressions)
        tried.append("matches none of the expressions %s" % shown)
    return ("no-criteria", "%s %s" % (quote(file_name), " and ".join(tried)))


def photo_names(config, entry):
    """The table's names whose criteria the entry satisfies (names and values ignoring case).

    `entry` is a list of (name, values). Regular expressions cannot be reversed, so a photo
    matched only by one is not found again from the entry.
    """
    values = {}
    for name, entry_values in entry:
        values.setdefault(name.lower(), set()).update(v.lower() for v in entry_values)
    names, seen = [], set()
    for row in config.rows.values():
        if all(value.lower() in values.get(attribute.lower(), ()) for attribute, value in
               row.criteria) and row.name.lower() not in seen:
            seen.add(row.name.lower())
            names.append(row.name)
    return names
