"""Unit tests of match_table, run with `python3 -m unittest` in this folder (CPython 3.11+,
nothing to install). The component itself is tested with cases.toml."""

import unittest

from match_table import SettingError, file_stem, match_photo, parse_settings, photo_names


def config(**settings):
    return parse_settings((key.replace("_", "-"), value) for key, value in settings.items())


class Settings(unittest.TestCase):
    def test_needs_a_table_or_an_expression(self):
        with self.assertRaisesRegex(SettingError, "give at least one of"):
            config(ignore_case="true")

    def test_rejects_unknown_and_repeated_keys(self):
        with self.assertRaisesRegex(SettingError, 'the setting "patterns" is unknown'):
            config(patterns="{employeeID}")
        with self.assertRaisesRegex(SettingError, "more than once"):
            parse_settings([("regex", "(?P<uid>.+)"), ("regex", "(?P<cn>.+)")])

    def test_comments_and_blank_lines_are_skipped(self):
        c = config(table="# a comment\n\n  12345.jpg = employeeID=12345  \n")
        self.assertEqual(list(c.rows), ["12345"])

    def test_a_value_may_contain_equals_signs(self):
        c = config(table="x = description=a=b")
        self.assertEqual(c.rows["x"].criteria, (("description", "a=b"),))

    def test_numeric_oids_are_attribute_names(self):
        config(table="x = 2.5.4.3=someone")

    def test_csv_header_must_name_attributes(self):
        with self.assertRaisesRegex(SettingError, "at least one attribute"):
            config(csv="file\na.jpg\n")
        with self.assertRaisesRegex(SettingError, "names UID twice"):
            config(csv="file,uid,UID\na.jpg,1,2\n")
        with self.assertRaisesRegex(SettingError, "header but no rows"):
            config(csv="file,uid\n")

    def test_group_names_must_be_attribute_names(self):
        with self.assertRaisesRegex(SettingError, "group name _x is not an attribute name"):
            config(regex="(?P<_x>.+)")


class Matching(unittest.TestCase):
    def test_stem(self):
        self.assertEqual(file_stem("12345.jpg"), "12345")
        self.assertEqual(file_stem("john.smith.jpeg"), "john.smith")
        self.assertEqual(file_stem(".profile"), ".profile")
        self.assertEqual(file_stem("a/b\\c.png"), "b\\c")

    def test_optional_group_left_out(self):
        c = config(regex="(?P<employeeID>[0-9]+)(_(?P<sn>[a-z]+))?")
        self.assertEqual(match_photo(c, "123.jpg")[1], [("employeeID", "123")])
        self.assertEqual(match_photo(c, "123_smith.jpg")[1], [("employeeID", "123"), ("sn", "smith")])

    def test_photo_names_ignore_case_and_repeat_nothing(self):
        c = config(csv="file,uid\nA.jpg,ada\nB.jpg,ada\n")
        self.assertEqual(photo_names(c, [("UID", ["ADA"])]), ["A", "B"])
        self.assertEqual(photo_names(c, [("uid", [])]), [])


if __name__ == "__main__":
    unittest.main()
