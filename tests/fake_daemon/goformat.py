"""Go-compatible formatting (``json.Marshal``, ``%q``, RFC3339Nano, float32/float64 text) and
the small helpers every other module of the fake uses: the clock, pseudo tokens, digests and
`wait_until`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import re
import struct
import time
from collections.abc import Callable
from typing import Any


def go_json(obj: Any) -> str:
    """Serialise like Go's ``json.Marshal``: compact, UTF-8, ``<>&`` escaped.

    >>> go_json({"template": "<|eot_id|> & more", "n": [1, 2]})
    '{"template":"\\\\u003c|eot_id|\\\\u003e \\\\u0026 more","n":[1,2]}'
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def go_quote(text: str) -> str:
    """Go's ``%q`` for ordinary strings (close enough for error messages).

    >>> go_quote('llama3.2:1b')
    '"llama3.2:1b"'
    """
    return json.dumps(text, ensure_ascii=False)


def go_time(epoch_ns: int, *, utc: bool = False) -> str:
    """Format like Go's RFC3339Nano (trailing zeros trimmed; ``Z`` for a zero offset).

    >>> go_time(1_700_000_000_123_400_000, utc=True)
    '2023-11-14T22:13:20.1234Z'
    """
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    if not utc:
        moment = moment.astimezone()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    offset = moment.utcoffset() or dt.timedelta(0)
    if offset == dt.timedelta(0):
        return text + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, rem = divmod(abs(total), 3600)
    return f"{text}{sign}{hours:02d}:{rem // 60:02d}"


def _now_ns() -> int:
    return time.time_ns()


def _created_at() -> str:
    return go_time(_now_ns(), utc=True)


def _as_f32(value: float) -> float:
    packed: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return packed


def go_float32(value: float) -> str:
    """Shortest float32 text as Go's encoding/json writes it.

    >>> go_float32(0.010071029)
    '0.010071029'
    >>> go_float32(0.00005)
    '0.00005'
    >>> go_float32(1e-7)
    '1e-7'
    """
    f32 = _as_f32(value)
    if f32 == 0:
        return "0"
    digits = repr(f32)
    for precision in range(1, 10):
        candidate = f"{f32:.{precision}g}"
        if _as_f32(float(candidate)) == f32:
            digits = candidate
            break
    return _go_float_layout(float(digits), digits)


def go_float64(value: float) -> str:
    """Shortest float64 text as Go's encoding/json writes it.

    >>> go_float64(5e-05)
    '0.00005'
    >>> go_float64(-2.5)
    '-2.5'
    """
    if value == 0:
        return "0"
    return _go_float_layout(value, repr(value))


def _go_float_layout(value: float, digits: str) -> str:
    magnitude = abs(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        text = f"{decimal.Decimal(digits):e}".replace("E", "e")
        mantissa, _, exponent = text.partition("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        sign = "-" if exponent.startswith("-") else "+"
        exp_digits = exponent.lstrip("+-").lstrip("0") or "0"
        if len(exp_digits) < 2 and sign == "+":
            exp_digits = exp_digits.zfill(2)
        return f"{mantissa}e{'-' if sign == '-' else '+'}{exp_digits}"
    text = format(decimal.Decimal(digits), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _ns(seconds: float) -> int:
    return max(0, int(seconds * 1_000_000_000))


def _words(text: str) -> int:
    return len(text.split())


def _tokenize(text: str) -> list[str]:
    """Split text into pseudo tokens that concatenate back to the original text.

    >>> _tokenize("Hello there,  world.")
    ['Hello', ' there,', '  world.']
    """
    if not text:
        return []
    tokens = re.findall(r"\s*\S+", text)
    rest = text[len("".join(tokens)) :]
    if rest:
        if tokens:
            tokens[-1] += rest
        else:
            tokens.append(rest)
    return tokens


def _digest_of(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def wait_until(
    predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.005
) -> None:
    """Poll ``predicate`` until it is truthy; raise ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)
