#!/usr/bin/env python3
"""Converts a text-classification ARFF file to the SST-2 TSV layout masklm's task reader reads.

    python3 scripts/arff_to_tsv.py IN.arff OUT.tsv

The ARFF must declare one string attribute (the text) followed by one nominal attribute (the
class), as Weka's Reuters-21578 files do (scripts/corpus converts those). OUT.tsv gets the header
`sentence<TAB>label` and one `text<TAB>class` row per instance. Values are decoded as Weka writes
them: quoted with ' or ", backslash escapes (\\n, \\t, \\', \\\\, ...), then HTML character
references (Reuters' SGML keeps `&lt;` and the `&#3;` end-of-text mark). The TSV reader has no
quoting, so control characters are dropped and all whitespace, line breaks included, collapses to
single spaces. Prints the instance count per class. Standard library only.
"""
import html
import re
import sys

ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


class ArffError(Exception):
    pass


def read_quoted(line, pos, path, number):
    """The value quoted at line[pos] (' or "), unescaped, and the index after the closing quote."""
    quote, chars, i = line[pos], [], pos + 1
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            chars.append(ESCAPES.get(line[i + 1], line[i + 1]))
            i += 2
        elif c == quote:
            return "".join(chars), i + 1
        else:
            chars.append(c)
            i += 1
    raise ArffError(f"{path}:{number}: unterminated {quote}-quoted value")


def split_values(line, path, number):
    """The comma-separated values of a data row; quoted values unescaped, others stripped."""
    values, pos = [], 0
    while True:
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if pos < len(line) and line[pos] in "'\"":
            value, pos = read_quoted(line, pos, path, number)
        else:
            end = line.find(",", pos)
            end = len(line) if end < 0 else end
            value, pos = line[pos:end].strip(), end
        values.append(value)
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if pos == len(line):
            return values
        if line[pos] != ",":
            raise ArffError(f"{path}:{number}: expected ',' after a value, found {line[pos]!r}")
        pos += 1


def clean_text(text):
    """One line of plain text: character references decoded, control characters dropped."""
    text = html.unescape(text)
    text = "".join(" " if c.isspace() else c for c in text if c.isspace() or c.isprintable())
    return " ".join(text.split())


def parse_attribute(line, path, number):
    """('string', None) or ('nominal', [values]) for an @attribute line."""
    m = re.match(r"@attribute\s+('[^']*'|\"[^\"]*\"|\S+)\s+(.*)$", line, re.I)
    if not m:
        raise ArffError(f"{path}:{number}: cannot read the attribute declaration")
    kind = m.group(2).strip()
    if kind.lower() == "string":
        return "string", None
    if kind.startswith("{") and kind.endswith("}"):
        return "nominal", [v.strip().strip("'\"") for v in kind[1:-1].split(",")]
    raise ArffError(f"{path}:{number}: attribute type {kind!r} is neither string nor nominal")


def read_arff(path):
    """The (text, label) instances of an ARFF file with a string and a nominal attribute."""
    attributes, rows, in_data = [], [], False
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("%"):
                continue
            if not in_data:
                if line.lower().startswith("@attribute"):
                    attributes.append(parse_attribute(line, path, number))
                elif line.lower() == "@data":
                    if [a[0] for a in attributes] != ["string", "nominal"]:
                        raise ArffError(f"{path}: expected a string then a nominal attribute, found "
                                        f"{[a[0] for a in attributes]}")
                    in_data = True
                continue
            if line.startswith("{"):
                raise ArffError(f"{path}:{number}: sparse instances are not supported")
            values = split_values(line, path, number)
            if len(values) != 2:
                raise ArffError(f"{path}:{number}: {len(values)} values, expected 2")
            text, label = values
            if label not in attributes[1][1]:
                raise ArffError(f"{path}:{number}: class {label!r} is not one of {attributes[1][1]}")
            rows.append((clean_text(text), label))
    if not in_data:
        raise ArffError(f"{path}: no @data section")
    return rows, attributes[1][1]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    in_path, out_path = sys.argv[1:]
    try:
        rows, classes = read_arff(in_path)
    except ArffError as e:
        sys.exit(f"arff_to_tsv: {e}")
    with open(out_path, "w", encoding="utf-8", newline="\n") as out:
        out.write("sentence\tlabel\n")
        for text, label in rows:
            out.write(f"{text}\t{label}\n")
    counts = ", ".join(f"{sum(1 for _, l in rows if l == c)} of class {c}" for c in classes)
    print(f"{out_path}: {len(rows)} instances ({counts})")


if __name__ == "__main__":
    main()
