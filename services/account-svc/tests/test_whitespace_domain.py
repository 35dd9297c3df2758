"""Whitespace cells and estimates, without a database."""
import uuid

import pytest

from account_svc.whitespace.domain import (
    Comparables,
    FamilyFigures,
    Holding,
    Purchase,
    Unit,
    family_amounts,
    family_figures,
    median_cents,
    tree_order,
    whitespace,
)

GROUP, SUB_A, SUB_B, BRANCH = (uuid.uuid4() for _ in range(4))
UNITS = [Unit(GROUP, None, "Group", "banking", "key"), Unit(SUB_B, GROUP, "B sub", "banking", "ordinary"),
         Unit(SUB_A, GROUP, "A sub", "insurance", "key"), Unit(BRANCH, SUB_A, "A branch", None, None)]


@pytest.mark.parametrize("values, median", [([5], 5), ([1, 9, 3], 3), ([1, 2], 2), ([10, 20, 30, 41], 25),
                                            ([7, 8], 8)])
def test_median_in_whole_cents(values, median):
    assert median_cents(values) == median


def test_family_figures_count_distinct_buyers_and_take_the_median_per_currency():
    a, b = uuid.uuid4(), uuid.uuid4()
    figures = family_figures([Purchase(a, "CNY", 100), Purchase(a, "CNY", 300), Purchase(b, "CNY", 1000),
                              Purchase(b, "USD", 50)])
    assert figures.buyers == 2
    assert figures.estimates == ({"currency": "CNY", "median_cents": 300, "won_opportunities": 3},
                                 {"currency": "USD", "median_cents": 50, "won_opportunities": 1})
    assert family_figures([]) == FamilyFigures(0, ())


def test_family_amounts_sum_lines_per_family_and_skip_lines_without_one():
    assert family_amounts([("software", 100), ("services", 5), ("software", 20), (None, 999)]) == {
        "software": 120, "services": 5}


def test_tree_order_is_depth_first_with_children_by_name():
    assert [(u.name, d) for u, d in tree_order(GROUP, UNITS)] == [
        ("Group", 0), ("A sub", 1), ("A branch", 2), ("B sub", 1)]


def test_cells_are_won_over_open_over_none_and_none_says_what_comparable_accounts_buy():
    holdings = {(SUB_A, "software"): Holding(won=1, open=2), (SUB_B, "software"): Holding(open=1),
                (GROUP, "services"): Holding(won=3)}
    comparables = {("banking", "ordinary"): Comparables(40, {"services": FamilyFigures(10, (
        {"currency": "CNY", "median_cents": 5_000_00, "won_opportunities": 12},))}),
        ("banking", "key"): Comparables(8), ("insurance", "key"): Comparables(0)}
    rows = whitespace(GROUP, UNITS, ["software", "services"], holdings, comparables)
    cells = {(r["name"], c["family"]): c for r in rows for c in r["cells"]}
    assert cells[("A sub", "software")]["status"] == "won" and cells[("A sub", "software")]["comparable"] is None
    assert cells[("B sub", "software")]["status"] == "open"
    assert cells[("Group", "services")]["won_opportunities"] == 3
    gap = cells[("B sub", "services")]
    assert gap["status"] == "none"
    assert gap["comparable"] == {"industry": "banking", "tier": "ordinary", "accounts": 40, "buyers": 10,
                                 "share": 0.25, "estimates": [{"currency": "CNY", "amount_cents": 500000,
                                                               "won_opportunities": 12}]}
    # nobody comparable bought it: an empty estimate, share 0 (also with no comparable accounts at all)
    assert cells[("Group", "software")]["comparable"]["buyers"] == 0
    assert cells[("A sub", "services")]["comparable"]["share"] == 0.0
    # no industry or tier: nothing to compare with
    assert cells[("A branch", "software")]["comparable"] is None
    assert [r["families"] if "families" in r else [c["family"] for c in r["cells"]] for r in rows][0] == [
        "services", "software"]


def test_a_unit_outside_the_callers_scope_shows_its_place_only():
    units = [UNITS[0], Unit(SUB_A, GROUP, "Secret", "banking", "key", restricted=True)]
    rows = whitespace(GROUP, units, ["software"], {(SUB_A, "software"): Holding(won=1)}, {})
    hidden = rows[1]
    assert (hidden["restricted"], hidden["name"], hidden["industry"], hidden["cells"]) == (True, None, None, [])
