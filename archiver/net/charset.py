"""Text out of bytes from the web: the charset a page is in.

Charset decision for HTML (``decode_html``). Browsers use BOM > HTTP header > ``<meta>`` >
guess. We keep the BOM first, but do not let a declaration alone win, because the archive must
hold readable text rather than reproduce a browser's mojibake:

1. A byte-order mark decides.
2. Bytes that are valid UTF-8 and not plain ASCII are UTF-8, whatever is declared: other
   encodings almost never form valid multi-byte UTF-8 by accident, while a server default of
   ``ISO-8859-1`` in front of a UTF-8 page is common.
3. Otherwise the declared charsets (header, then ``<meta>``/XML declaration; the meta first when
   the header is only a server default, Latin-1/ASCII/windows-1252) are checked against the bytes
   with charset-normalizer, and the first one whose decoding is not a mess is used.
4. When none is declared or all make a mess, charset-normalizer's best guess is used, and
   windows-1252 (the WHATWG default) when it has none. Decoding replaces bad bytes: no exception.

Labels follow the WHATWG Encoding Standard's supersets (ISO-8859-1 and ASCII decode as
windows-1252, GB2312/GBK as GB18030, Shift_JIS as cp932, EUC-KR as cp949).
"""

from __future__ import annotations

import codecs
import logging
import re
from typing import Any

from charset_normalizer import from_bytes

LOGGER = logging.getLogger(__name__)

#: How far into the bytes <meta charset> is looked for (WHATWG scans 1 KB; pages with long
#: inline scripts in <head> declare it later) and how much charset-normalizer samples.
PRESCAN_BYTES = 64_000
_DETECT_BYTES = 200_000
#: We weigh the declarations ourselves: charset-normalizer's own reading of <meta> would stop
#: at the declared codec as soon as it decodes, before a better candidate is looked at.
_DETECT: dict[str, Any] = {"preemptive_behaviour": False}

BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: Python codec name -> the superset browsers actually decode with (WHATWG Encoding Standard).
_WHATWG = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
    "iso8859-11": "cp874",
    "big5": "big5hkscs",
}
#: Server defaults that say little about the page (Apache's ``AddDefaultCharset``...).
_WEAK = {"cp1252"}
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)", re.I)


def codec_name(label: str | None) -> str | None:
    """Python codec for a charset label, widened to the WHATWG superset; None when unknown."""
    if not label:
        return None
    try:
        name: str = codecs.lookup(label.strip().strip("\"'").lower()).name
    except LookupError:
        return None
    return _WHATWG.get(name, name)


def _is_utf8(data: bytes) -> bool:
    """Valid UTF-8, allowing a character cut at the very end (bodies are capped mid-stream)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.reason == "unexpected end of data" and err.start >= len(data) - 3
    return True


def decode_html(
    body: bytes, declared: str | None, *, look_for_meta: bool = True
) -> tuple[str, str]:
    """Decode a page to text (see the module docstring for the order of evidence).

    Returns:
        The text and the codec used.
    """
    for bom, codec in BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, "replace"), codec
    if body.isascii():
        return body.decode("ascii"), "ascii"
    if _is_utf8(body):
        return body.decode("utf-8", "replace"), "utf-8"

    header = codec_name(declared)
    meta = codec_name(_declared_in_markup(body)) if look_for_meta else None
    candidates: list[str] = []
    ordered = [meta, header] if header in _WEAK else [header, meta]
    for label in ordered:
        # UTF-16/32 without a BOM are almost always mislabels (WHATWG reads a meta one as
        # UTF-8); UTF-8 failed the check above.
        if (
            label
            and label not in candidates
            and not label.startswith(("utf-8", "utf-16", "utf-32"))
        ):
            candidates.append(label)
    sample = _sample(body)
    if candidates:
        plausible = {
            _norm(m.encoding) for m in from_bytes(sample, cp_isolation=candidates, **_DETECT)
        }
        for label in candidates:
            if _norm(label) in plausible:
                return body.decode(label, "replace"), label
        LOGGER.info("declared charsets %s do not fit the bytes; guessing", candidates)
    best = from_bytes(sample, **_DETECT).best()
    guess = codec_name(best.encoding) if best is not None else None
    if guess is None:
        guess = candidates[0] if candidates else "cp1252"
    return body.decode(guess, "replace"), guess


def _sample(body: bytes) -> bytes:
    """The start of the body for detection, cut before an ASCII delimiter.

    Multi-byte encodings never use bytes below 0x40 as trail bytes, so cutting before ``<`` or a
    newline does not split a character (which would make the detector reject the right codec).
    """
    if len(body) <= _DETECT_BYTES:
        return body
    sample = body[:_DETECT_BYTES]
    cut = max(sample.rfind(b"<"), sample.rfind(b"\n"))
    return sample[:cut] if cut > 0 else sample


def _norm(name: str) -> str:
    """Comparable codec name (charset-normalizer reports ``gb18030``, ``cp1251``...)."""
    return codec_name(name) or name


def _declared_in_markup(body: bytes) -> str | None:
    head = body[:PRESCAN_BYTES]
    match = _META_CHARSET.search(head) or _XML_DECL.search(head)
    return match.group(1).decode("ascii") if match else None
