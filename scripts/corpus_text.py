#!/usr/bin/env python3
"""Extracts plain English text from installed Debian packages for scripts/corpus.

Writes one document per blank-line-separated block (no blank lines inside a document) to
the output file and prints, per source, its documents and megabytes. Standard library only.
Sources and licences are listed in README.md ("Default corpus").
"""
import glob
import gzip
import html.parser
import os
import re
import subprocess
import sys


def clean(text):
    """Collapses runs of spaces and drops empty lines, so no document holds a blank line."""
    lines = (re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def unwrap(paragraphs_text):
    """Joins hard-wrapped lines of each blank-line-separated paragraph into one line."""
    paragraphs = re.split(r"\n\s*\n", paragraphs_text)
    return "\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def kjv():
    """King James Bible (public domain), one document per chapter, via the `bible` program."""
    out = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], check=True, capture_output=True, text=True).stdout
    chapters, current, key = [], [], None
    for line in out.splitlines():
        m = re.match(r"^(\d?[A-Za-z]+)(\d+):\d+ (.*)$", line)
        if m:
            if (m.group(1), m.group(2)) != key and current:
                chapters.append(" ".join(current))
                current = []
            key = (m.group(1), m.group(2))
            current.append(m.group(3).strip())
        elif line.strip() and current:  # a verse wrapped onto the next line
            current[-1] += " " + line.strip()
    if current:
        chapters.append(" ".join(current))
    return chapters


def wordnet(group=25):
    """WordNet 3.0 glosses (WordNet licence), 'words: gloss' lines, `group` synsets a document."""
    docs = []
    for pos in ("noun", "verb", "adj", "adv"):
        lines = []
        with open(f"/usr/share/wordnet/data.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue  # the licence header
                fields, gloss = line.split("|", 1)
                parts = fields.split()
                count = int(parts[3], 16)
                words = [w.replace("_", " ") for w in parts[4 : 4 + 2 * count : 2]]
                words = [re.sub(r"\([a-z]+\)$", "", w) for w in words]  # adjective markers
                lines.append(f"{', '.join(words)}: {gloss.strip()}")
                if len(lines) == group:
                    docs.append("\n".join(lines))
                    lines = []
        if lines:
            docs.append("\n".join(lines))
    return docs


class MainText(html.parser.HTMLParser):
    """The text of a Sphinx page's main body, one line per block element."""

    BLOCKS = {"p", "div", "section", "li", "dt", "dd", "pre", "tr", "br", "h1", "h2", "h3", "h4", "h5", "h6",
              "blockquote", "table", "ul", "ol", "dl"}
    SKIP = {"script", "style"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0  # > 0 inside <div role="main">
        self.skip = 0
        self.pre = 0  # inside <pre>, where line breaks are content
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            if tag == "div":
                self.depth += 1
        elif tag == "div" and ("role", "main") in attrs:
            self.depth = 1
        if tag in self.SKIP:
            self.skip += 1
        if tag == "pre":
            self.pre += 1
        if self.depth and tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if self.depth and tag in self.BLOCKS:
            self.parts.append("\n")
        if self.depth and tag == "div":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and not self.skip:
            data = data.replace("\u00b6", "")  # Sphinx's pilcrow anchors
            self.parts.append(data if self.pre else data.replace("\n", " "))  # unwrap source lines


def python_docs():
    """The Python 3.11 documentation (PSF licence), HTML stripped, one document per page."""
    docs = []
    root = "/usr/share/doc/python3.11/html"
    for path in sorted(glob.glob(f"{root}/**/*.html", recursive=True)):
        name = os.path.relpath(path, root)
        if name.startswith(("_", "genindex", "search", "py-modindex")):
            continue
        parser = MainText()
        with open(path, encoding="utf-8", errors="replace") as f:
            parser.feed(f.read())
        text = clean("".join(parser.parts))
        if len(text) >= 200:
            docs.append(text)
    return docs


def jargon():
    """The Jargon File 4.4.7 (public domain), one document per entry, links unbraced."""
    with gzip.open("/usr/share/doc/jargon-text/jargon.txt.gz", "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    entries = re.split(r"\n   :(?=[^\n]+?:)", text)[1:]  # the lexicon: "   :term: ..." lines
    # Each letter's list of terms ("  E" alone on a line, then the terms) follows the
    # letter's last entry; it is not part of that entry.
    entries = [re.split(r"\n  [A-Z0-9]\n", e)[0] for e in entries]
    return [unwrap(":" + e).replace("{", "").replace("}", "") for e in entries if e.strip()]


def fortunes():
    """BSD fortune cookies (fortunes, fortunes-min; BSD licence), one document per cookie."""
    docs = []
    for path in sorted(glob.glob("/usr/share/games/fortunes/*")):
        if "." in os.path.basename(path) or os.path.islink(path) or os.path.isdir(path):
            continue  # .dat indexes and .u8 links
        with open(path, encoding="utf-8", errors="replace") as f:
            docs += [clean(c) for c in re.split(r"^%$", f.read(), flags=re.M) if clean(c)]
    return docs


SOURCES = [
    ("King James Bible (bible-kjv-text)", kjv),
    ("WordNet 3.0 glosses (wordnet-base)", wordnet),
    ("Python 3.11 documentation (python3.11-doc)", python_docs),
    ("The Jargon File 4.4.7 (jargon-text)", jargon),
    ("BSD fortunes (fortunes, fortunes-min)", fortunes),
]


def main():
    out_path = sys.argv[1]
    total_docs = total_bytes = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for name, extract in SOURCES:
            docs = [d for d in (clean(x) for x in extract()) if d]
            size = sum(len(d.encode("utf-8")) + 2 for d in docs)
            for d in docs:
                out.write(d + "\n\n")
            print(f"corpus: {name:45s} {len(docs):7d} documents {size / 1e6:7.2f} MB", flush=True)
            total_docs += len(docs)
            total_bytes += size
    print(f"corpus: {'total':45s} {total_docs:7d} documents {total_bytes / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()
