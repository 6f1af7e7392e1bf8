"""Regions: the region a number's prefix belongs to, and the regional group that serves a region."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

COUNTRY = "0086"
"""China's country code in international form; a number carrying it is compared as national."""

_PUNCTUATION = re.compile(r"[\s\-()]")


def number_forms(number: str) -> tuple[str, ...]:
    """The digit strings ``number`` is compared as, most literal first; () if it is not a number.

    Spaces, dashes and parentheses are dropped and a leading ``+`` becomes ``00``, so ``+1 212``
    and ``001212`` are the same foreign number. A number starting ``0086`` (from ``+86`` or
    ``0086``) loses it and is compared both as it stands (mobiles: ``138...``) and with the
    trunk ``0`` landlines are written with (``0755...``). Nothing else is guessed: ``86755...``
    without ``+`` or ``00`` is taken as written.
    """
    digits = _PUNCTUATION.sub("", number)
    if digits.startswith("+"):
        digits = "00" + digits[1:]
    if not (digits.isascii() and digits.isdigit()):
        return ()
    if digits.startswith(COUNTRY):
        national = digits[len(COUNTRY):]
        return (national, "0" + national) if national else ()
    return (digits,)


def check_region(path: object, where: str) -> str:
    """``path`` if it is a region path like ``"guangdong/shenzhen"``, else ``ValueError``."""
    if not isinstance(path, str) or not path or any(not part.strip() for part in path.split("/")):
        raise ValueError(f"{where}: {path!r} is not a region path like 'guangdong/shenzhen'")
    return path


class PrefixTable:
    """Number prefix -> region path; the longest prefix matching any form of a number wins.

    One dict lookup per distinct prefix length, so a table of tens of thousands of prefixes
    costs as much as one of ten.
    """

    __slots__ = ("_lengths", "_regions")

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        for prefix, region in prefixes.items():
            if not (prefix.isascii() and prefix.isdigit()):
                raise ValueError(f"prefix {prefix!r}: digits only, like '0755' or '1380013'")
            if prefix.startswith(COUNTRY):
                raise ValueError(f"prefix {prefix!r}: numbers are compared without {COUNTRY}; "
                                 f"write {'0' + prefix[len(COUNTRY):]!r}")
            check_region(region, f"prefix {prefix!r}")
        self._regions = dict(prefixes)
        self._lengths = sorted({len(prefix) for prefix in prefixes}, reverse=True)

    def __len__(self) -> int:
        return len(self._regions)

    def region_of(self, number: str) -> str | None:
        """The region of the longest prefix of ``number`` (see ``number_forms``); None if none.

        Between two forms matching equally long prefixes, the form as written wins.
        """
        forms = number_forms(number)
        for length in self._lengths:
            for form in forms:
                region = self._regions.get(form[:length]) if len(form) >= length else None
                if region is not None:
                    return region
        return None


def within(region: str, area: str) -> bool:
    """Whether region path ``region`` is ``area`` or below it; every region is within ``""``."""
    return not area or region == area or region.startswith(area + "/")


def regional_queue(home: str, region: str | None,
                   children: Mapping[str, Sequence[tuple[str, str]]]) -> str:
    """The queue that serves a customer of ``region`` who arrives for ``home``.

    ``children`` maps a queue to its regional groups as (queue, region path). From ``home``,
    descend to the deepest group whose region contains the customer's (the first listed among
    equals) until none does. Groups without a region are not regional and are skipped; an
    unknown region stays at ``home``; a group already visited is never entered again, so a
    cycle in the data ends the descent.
    """
    if not region:
        return home
    current, seen = home, {home}
    while True:
        best, depth = None, -1
        for queue, area in children.get(current, ()):
            if area and queue not in seen and area.count("/") > depth and within(region, area):
                best, depth = queue, area.count("/")
        if best is None:
            return current
        current = best
        seen.add(best)
