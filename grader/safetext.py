"""Learner-controlled text made safe for each place the grader shows or writes it.

Anything a submission controls (what it prints, its exception messages, file and
archive member names, its learner id, its quiz answers file) may hold any code
point, lone surrogates, invalid UTF-8, terminal control sequences, bidi
overrides, Markdown, HTML or spreadsheet formulas. Every sink goes through one
function here:

=============  ==============================================================
sink           function
=============  ==============================================================
terminal       `terminal` (multi-line blocks), `terminal_line` (one line), `shown_id`
Markdown       `markdown` (inline, table cells), `md_code`, `md_block`
HTML           the report templates' Jinja `finalize` (`inert`), `html`
CSV            `csv_cell` (display columns), `csv_identity` (ids an LMS matches)
XML (JUnit)    `xml`
JSON           `json_safe`, `json_dumps`
GitHub log     `workflow_data`, `workflow_property`
file names     `file_stem`, `file_stems`
learner ids    `learner_id` (a folder or archive name as a storable id)
=============  ==============================================================

The common base is `inert`: control characters (C0 but tab and newline, DEL,
C1), Unicode format characters (bidi overrides and isolates, zero-width
characters, tag characters, BOM), lone surrogates and noncharacters become
U+FFFD, so an escape sequence (CSI, OSC 52, DCS, 8-bit C1 forms alike) loses
its introducer and shows as plain text; runs of combining marks are cut; the
length is bounded with a visible cut marker.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
DEFAULT_LIMIT = 2000          #: characters a sink shows of one learner string unless told otherwise
MAX_COMBINING = 8             #: combining marks kept on one base character ("Zalgo" towers are cut)

# Unicode format characters (category Cf, Unicode 14): bidi embeddings, overrides and isolates,
# zero-width spaces and joiners, invisible operators, BOM, interlinear annotations, tag characters.
_FORMAT = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
           "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
           "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
# Invisible fillers that render as nothing (used to hide text), line/paragraph separators.
_INVISIBLE = "\u115f\u1160\u3164\uffa0\u2028\u2029"
_NONCHAR = "\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(p * 0x10000 + 0xfffe)}{chr(p * 0x10000 + 0xffff)}" for p in range(1, 17))
_SURROGATE = "\ud800-\udfff"
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"

_UNSAFE = re.compile(f"[{_CONTROL}{_FORMAT}{_INVISIBLE}{_NONCHAR}{_SURROGATE}]")
_SURROGATES = re.compile(f"[{_SURROGATE}]")


# --- the base ----------------------------------------------------------------------------


def text(value) -> str:
    """Any value as a str a UTF-8 encoder accepts: bytes decoded (invalid UTF-8 shown as U+FFFD),
    lone surrogates (from surrogateescape or surrogatepass decoding) replaced, None as ""."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:   # a str() that raises: say what it was, not why
            value = f"<{type(value).__name__}>"
    return _SURROGATES.sub(REPLACEMENT, value)


def cut(value: str, limit: int | None, total: int | None = None) -> str:
    """`value` at most `limit` characters long, with a visible marker saying how much was cut
    (`total`: the length of the original when `value` is already a prefix of it)."""
    total = len(value) if total is None else total
    if limit is None or total <= limit:
        return value
    marker = f" … [{total - limit:,} more characters cut]"
    if limit <= len(marker) + 8:
        return value[:limit]
    keep = limit - len(marker)
    marker = f" … [{total - keep:,} more characters cut]"
    return value[: limit - len(marker)] + marker


def _calm_combining(value: str) -> str:
    """At most MAX_COMBINING combining marks in a row (the rest dropped, one U+FFFD says so)."""
    if value.isascii():
        return value
    out, run = [], 0
    for ch in value:
        if unicodedata.combining(ch):
            run += 1
            if run > MAX_COMBINING:
                if run == MAX_COMBINING + 1:
                    out.append(REPLACEMENT)
                continue
        else:
            run = 0
        out.append(ch)
    return "".join(out)


def inert(value, limit: int | None = None) -> str:
    """Text that no terminal, browser or viewer interprets: controls (but tab and newline), escape
    introducers, bidi and other format characters, surrogates and noncharacters shown as U+FFFD;
    combining floods cut; at most `limit` characters with a visible cut marker."""
    total = None
    if limit is not None:   # scanning more than can be shown is wasted work (and a way to waste ours)
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value)[: 4 * limit + 4]
        elif isinstance(value, str):
            total, value = len(value), value[:limit]
    value = text(value)
    total = len(value) if total is None else total
    if limit is not None:
        value = value[:limit]   # every replacement below keeps or shrinks the length
    value = _calm_combining(_UNSAFE.sub(REPLACEMENT, value))
    return cut(value, limit, total)


# --- terminal --------------------------------------------------------------------------


def terminal(value, limit: int | None = DEFAULT_LIMIT) -> str:
    """A block for a terminal: lines kept, every control and escape sequence made visible text."""
    return inert(value, limit)


def terminal_line(value, limit: int | None = 300) -> str:
    """One line for a terminal (a learner id in a summary): newlines and tabs shown, never obeyed."""
    return inert(value, limit).replace("\n", "⏎").replace("\t", " ")


def shown_id(ident, limit: int = 120) -> str:
    """A learner id on one terminal line; an id that had to be changed to be shown is followed by its
    file name, so two ids that look alike once made inert are still told apart (and found on disk)."""
    line = terminal_line(ident, limit)
    return line if line == ident else f"{line} [{file_stem(ident)}]"


# --- Markdown ----------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&:@=\"'$^%;/,?])")


def markdown(value, limit: int | None = 500) -> str:
    """Inline Markdown (a table cell, a list item) that renders as exactly its text: every
    punctuation character that could start markup (headings, links, images, HTML, tables,
    code, emphasis, entities, autolinks, mentions) is backslash-escaped; one line."""
    flat = " ".join(inert(value, limit).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def md_code(value, limit: int | None = 300) -> str:
    """An inline code span holding the text verbatim (one line), delimited by more backticks than it holds."""
    flat = " ".join(inert(value, limit).split())
    ticks = "`" * (max((len(r) for r in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def md_block(value, limit: int | None = DEFAULT_LIMIT, info: str = "text") -> str:
    """A fenced code block holding the text verbatim: the fence is longer than any backtick run inside."""
    body = inert(value, limit)
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", body)), default=0) + 1)
    return f"{fence}{info}\n{body}\n{fence}"


# --- HTML ----------------------------------------------------------------------------------


def html(value, limit: int | None = None) -> str:
    """Text for HTML built outside a template (attribute or element content alike)."""
    return (inert(value, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))


def template_finalize(value):
    """Jinja's `finalize`: every expression a template prints is made inert, except markup the
    grader itself built (jinja2's Markup, which learner text never becomes)."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return inert(value)
    return value


# --- CSV ---------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value, limit: int | None = DEFAULT_LIMIT) -> str:
    """A display cell a spreadsheet shows as text: made inert, and a leading = + - @ tab or CR
    (or their full-width forms) gets a leading apostrophe so it is never run as a formula."""
    value = inert(value, limit)
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_identity(value) -> str:
    """An identity cell an LMS matches (a login, an id): every printable character kept exactly (no
    apostrophe before a leading = + - @, so `-dave` still matches), but controls, escapes and bidi
    overrides made inert like everywhere else (no LMS login holds them)."""
    return inert(value)


# --- XML (JUnit) ---------------------------------------------------------------------------

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml(value, limit: int | None = None) -> str:
    """Text legal in XML 1.0 (as element text or attribute value; ElementTree escapes the markup)."""
    return _NOT_XML.sub(REPLACEMENT, inert(value, limit))


# --- JSON ------------------------------------------------------------------------------------

_JSON_RAW = re.compile(f"[\x7f-\x9f{_FORMAT}{_INVISIBLE}{_NONCHAR}]")


def json_safe(value):
    """A structure json.dumps(ensure_ascii=False, allow_nan=False) and UTF-8 always accept:
    lone surrogates replaced (keys too), non-finite floats as None, tuples as lists."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {(text(k) if isinstance(k, str) else json_safe(k) if isinstance(k, (int, float, bool))
                 or k is None else text(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return text(value)
    try:   # numpy scalars and the like
        return json_safe(value.item())
    except Exception:
        return text(value)


def json_dumps(value, **kwargs) -> str:
    """JSON text that parses anywhere and never fails to encode: values kept (surrogates aside),
    bidi, format and C1 characters written as \\u escapes so no viewer of the file obeys them."""
    kwargs.setdefault("ensure_ascii", False)
    out = json.dumps(json_safe(value), allow_nan=False, **kwargs)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}" if ord(m.group()) < 0x10000
                         else "\\u{:04x}\\u{:04x}".format(*_pair(ord(m.group()))), out)


def _pair(cp: int) -> tuple[int, int]:
    cp -= 0x10000
    return 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)


# --- GitHub Actions workflow commands ------------------------------------------------------


def workflow_data(value, limit: int | None = 4000) -> str:
    """A workflow command's message: %, CR and LF escaped so it stays one command, the rest inert."""
    value = text(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return inert(value, limit)


def workflow_property(value, limit: int | None = 300) -> str:
    """A workflow command's property value: also ':' and ',' which separate properties."""
    return workflow_data(value, limit).replace(":", "%3A").replace(",", "%2C")


# --- file names ------------------------------------------------------------------------------

_PLAIN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_HASHED = re.compile(r"-[0-9a-f]{16}\Z")
HASH_CHARS = 16   #: hex digits of sha256 that make a name unique (64 bits)
WINDOWS_DEVICES = frozenset({"con", "prn", "aux", "nul", "conin$", "conout$", "clock$",
                             *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})


def _exact(ident) -> bytes:
    """The id's exact bytes: every distinct str (lone surrogates included) gives distinct bytes."""
    if isinstance(ident, (bytes, bytearray)):
        return bytes(ident)
    return str(ident).encode("utf-8", "surrogatepass")


def id_hash(ident) -> str:
    return hashlib.sha256(_exact(ident)).hexdigest()[:HASH_CHARS]


def file_stem(ident) -> str:
    """A file name (without extension) for a learner id, injective over all ids.

    A plain id (lower-case letters, digits, '.', '_', '-', at most 64, not hidden, not a
    Windows device name, not ending in '.', not itself shaped like a hashed name) is its own
    name. Any other id becomes a readable lower-case slug plus '-' and 16 hex digits of the
    sha256 of its exact bytes. Plain names never end in '-<16 hex>' and hashed names always
    do, so the two kinds never meet; every name is lower-case ASCII, so two ids never share a
    file on a case-insensitive file system either.
    """
    if isinstance(ident, str) and _PLAIN.fullmatch(ident) and not ident.endswith(".") \
            and not _HASHED.search(ident) and ident.split(".")[0] not in WINDOWS_DEVICES:
        return ident
    slug = re.sub(r"[^a-z0-9]+", "_", text(ident).lower()).strip("_")[:40].strip("_") or "learner"
    return f"{slug}-{id_hash(ident)}"


class NameCollision(ValueError):
    """Two different ids would share an output file (only a sha256 prefix collision can do this)."""


def file_stems(idents) -> dict:
    """id -> file stem for many ids at once, checked: two different ids never map to names that are
    equal once case-folded (NameCollision otherwise: nothing is overwritten)."""
    seen: dict[str, object] = {}
    out = {}
    for ident in idents:
        stem = file_stem(ident)
        key = stem.casefold()
        if key in seen and seen[key] != ident:
            raise NameCollision(f"two learner ids map to the file name {stem!r}: "
                                f"{terminal_line(seen[key], 80)!r} and {terminal_line(ident, 80)!r}")
        seen[key] = ident
        out[ident] = stem
    return out


# --- learner ids ------------------------------------------------------------------------------


def learner_id(name) -> str:
    """A folder or archive name as a learner id a database and UTF-8 accept, distinct names kept
    distinct as far as possible: bytes that are not UTF-8 (surrogateescape) shown as \\xNN."""
    if isinstance(name, (bytes, bytearray)):
        name = bytes(name).decode("utf-8", "surrogateescape")
    name = str(name)
    if not _SURROGATES.search(name):
        return name
    return "".join(f"\\x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF
                   else (REPLACEMENT if 0xD800 <= ord(ch) <= 0xDFFF else ch) for ch in name)
