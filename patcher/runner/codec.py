"""Source codec: a file's bytes to the text the codemods read and back, as Python itself decodes them."""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

from patcher.errors import SourceError

NEWLINE_BYTES = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class Form:
    """How a file's bytes became the text the codemods read: the codec (`utf-8-sig` when the file starts
    with a byte-order mark, the PEP 263 coding line's when it has one, else UTF-8), and whether its lone
    CR line endings were read as LF (libcst drops a final lone CR)."""

    encoding: str
    lone_cr: bool = False


def decode(data: bytes, path: str) -> tuple[str, Form]:
    """The text of a source file and its Form, as Python itself decodes it: a byte-order mark or a PEP 263
    coding line names the codec, else UTF-8. SourceError (7) naming the line and byte that do not decode,
    or the unknown codec."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "invalid or missing encoding declaration" not in str(exc):  # an unknown codec, a mark and a cookie at odds
            raise SourceError(f"{path}: {exc.msg}") from None
        encoding = "utf-8"  # no coding line, and its first lines are not UTF-8: decoding says where
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = len(NEWLINE_BYTES.findall(data, 0, exc.start)) + 1
        name = "UTF-8" if encoding.startswith("utf-8") else encoding
        raise SourceError(f"{path}:{line}: not {name} (byte {data[exc.start]:#04x})") from None
    lone_cr = "\r" in text and "\n" not in text
    return (text.replace("\r", "\n") if lone_cr else text), Form(encoding, lone_cr)


def encode(text: str, form: Form, path: str) -> bytes:
    """The bytes of `text` as the file was written (see Form); SourceError when the codemod wrote a
    character the file's codec cannot hold."""
    if form.lone_cr:
        text = text.replace("\n", "\r")
    try:
        return text.encode(form.encoding)
    except UnicodeEncodeError as exc:
        raise SourceError(f"{path}: the codemods wrote {text[exc.start]!r}, which {form.encoding} cannot "
                          "hold; nothing was written") from None
