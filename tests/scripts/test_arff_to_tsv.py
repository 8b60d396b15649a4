#!/usr/bin/env python3
"""scripts/arff_to_tsv.py (the Reuters-21578 task's converter) against hand-written expectations.

    python3 tests/scripts/test_arff_to_tsv.py      # ctest: arff_to_tsv (label cpu)
"""
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONVERTER = os.path.join(ROOT, "scripts", "arff_to_tsv.py")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "reuters")
HEADER = "@relation r\n@attribute Text string\n@attribute class-att {0,1}\n@data\n"


def convert(arff_path, tsv_path):
    return subprocess.run([sys.executable, CONVERTER, arff_path, tsv_path], capture_output=True, text=True)


class ArffToTsv(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.dir.name, "out.tsv")

    def tearDown(self):
        self.dir.cleanup()

    def expect_error(self, arff_text, message):
        """Converting arff_text fails, and stderr says message."""
        path = os.path.join(self.dir.name, "in.arff")
        with open(path, "w", encoding="utf-8") as f:
            f.write(arff_text)
        result = convert(path, self.out)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(message, result.stderr)

    def test_sample_matches_the_hand_written_tsv(self):
        # Escapes, both quote kinds, HTML references, control characters, comments, an unquoted value.
        result = convert(os.path.join(FIXTURES, "sample.arff"), self.out)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(self.out, encoding="utf-8") as got, open(os.path.join(FIXTURES, "sample.tsv"), encoding="utf-8") as want:
            self.assertEqual(got.read(), want.read())
        self.assertIn("4 instances (2 of class 0, 2 of class 1)", result.stdout)

    def test_a_class_outside_the_declared_values_names_the_line(self):
        self.expect_error(HEADER + "'a',0\n'b',2\n", "in.arff:6: class '2' is not one of ['0', '1']")

    def test_an_unterminated_quote_names_the_line(self):
        self.expect_error(HEADER + "'a\\',0\n", "in.arff:5: unterminated '-quoted value")

    def test_a_third_value_is_an_error(self):
        self.expect_error(HEADER + "'a',0,1\n", "in.arff:5: 3 values, expected 2")

    def test_other_attribute_layouts_are_refused(self):
        self.expect_error("@relation r\n@attribute x numeric\n@attribute c {0,1}\n@data\n1,0\n",
                          "neither string nor nominal")
        self.expect_error("@relation r\n@attribute c {0,1}\n@attribute t string\n@data\n0,'a'\n",
                          "expected a string then a nominal attribute")


if __name__ == "__main__":
    unittest.main()
