"""The declared rule for misspelt borough names: one slip from exactly one borough resolves, flagged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migration.mapping.transforms.geo import NEAR_MISSES, resolve_alias, within_one_edit

ALIASES = {
    "ISLINGTON": ("E09000019", None), "WANDSWORTH": ("E09000032", None), "HARROW": ("E09000015", None),
    "BARNET": ("E09000003", None), "BRENT": ("E09000005", None), "HEATHROW": ("E09000017", "heathrow"),
    "SUTTON": ("E09000029", None), "MERTON": ("E09000024", None), "CAMDEN": ("E09000007", None),
}


@pytest.mark.parametrize("text, expected", [
    ("ISLIGNTON", ("E09000019", "misspelt")),      # neighbours swapped
    ("WANDSWORHT", ("E09000032", "misspelt")),
    ("ISLINGTN", ("E09000019", "misspelt")),       # a letter dropped
    ("BARNETT", ("E09000003", "misspelt")),        # a letter added
    ("CAMDON", ("E09000007", "misspelt")),         # a letter substituted
    ("ISLINGTON", ("E09000019", None)),            # exact entries win, with their own flag
    ("HEATHROW", ("E09000017", "heathrow")),
    ("HARLOW", None),                              # a real town one letter from Harrow: never Harrow
    ("BARNES", None),                              # a district of Richmond, not Barnet
    ("BRNT", None),                                # too short to guess
    ("SURREY", None),                              # more than one slip from anything
    ("HEATHROX", None),                            # flagged aliases are not guessed from
])
def test_resolve(text: str, expected: object) -> None:
    assert resolve_alias(text, ALIASES) == expected


def test_a_slip_between_two_boroughs_resolves_to_neither() -> None:
    aliases = {"ABCDEF": ("E09000001", None), "ABCDEG": ("E09000002", None)}
    assert resolve_alias("ABCDEX", aliases) is None


def test_the_near_miss_list_is_loaded() -> None:
    assert {"HARLOW", "BARNES"} <= NEAR_MISSES


@given(st.text(alphabet="ABCDE", max_size=8), st.text(alphabet="ABCDE", max_size=8))
def test_within_one_edit_is_symmetric_and_matches_a_slow_definition(a: str, b: str) -> None:
    def osa(x: str, y: str) -> int:
        d = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]
        for i in range(len(x) + 1):
            d[i][0] = i
        for j in range(len(y) + 1):
            d[0][j] = j
        for i in range(1, len(x) + 1):
            for j in range(1, len(y) + 1):
                cost = 0 if x[i - 1] == y[j - 1] else 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1 and j > 1 and x[i - 1] == y[j - 2] and x[i - 2] == y[j - 1]:
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
        return d[len(x)][len(y)]

    assert within_one_edit(a, b) == within_one_edit(b, a) == (osa(a, b) <= 1)


def _resolve_by_scanning(norm: str, la_alias: dict[str, tuple[str, str | None]]) -> tuple[str, str | None] | None:
    """The rule as declared, scanning every spelling (what the length index and the memo must equal)."""
    if norm in la_alias:
        return la_alias[norm]
    if len(norm) < 5 or norm in NEAR_MISSES:
        return None
    found = {gss for alias, (gss, flag) in la_alias.items() if flag is None and len(alias) >= 5
             and within_one_edit(norm, alias)}
    return (found.pop(), "misspelt") if len(found) == 1 else None


@given(st.dictionaries(st.text(alphabet="ABCDE", min_size=3, max_size=8),
                       st.tuples(st.sampled_from(["E09000001", "E09000002", "E09000003"]),
                                 st.sampled_from([None, None, "heathrow"])), max_size=12),
       st.lists(st.text(alphabet="ABCDE", min_size=1, max_size=9), min_size=1, max_size=6))
def test_the_indexed_and_remembered_resolution_equals_scanning_every_spelling(
        la_alias: dict[str, tuple[str, str | None]], texts: list[str]) -> None:
    for text in texts + texts:  # the second pass answers from the memo
        assert resolve_alias(text, la_alias) == _resolve_by_scanning(text, la_alias), text
