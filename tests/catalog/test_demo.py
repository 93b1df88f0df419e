"""The bundled demo catalog is deterministic, valid, structured, and matches corpus/catalog.csv."""

from pathlib import Path

import pandas as pd
import pytest

from diffscan.catalog.demo import (
    COLUMNS,
    CROWDED_LEAVES,
    SPARSE_LEAVES,
    generate_demo_catalog,
    write_demo_catalog,
)

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "catalog.csv"


@pytest.fixture(scope="module")
def catalog() -> pd.DataFrame:
    return generate_demo_catalog()


def leaves(frame: pd.DataFrame) -> pd.Series:
    return frame["category"].str.split(" > ").str[-1]


def test_same_seed_same_catalog(catalog):
    pd.testing.assert_frame_equal(catalog, generate_demo_catalog())


def test_other_seed_other_catalog(catalog):
    assert not catalog.equals(generate_demo_catalog(seed=8))


def test_write_is_byte_identical(tmp_path):
    a = write_demo_catalog(tmp_path / "a.csv").read_bytes()
    b = write_demo_catalog(tmp_path / "b" / "b.csv").read_bytes()
    assert a == b


def test_committed_corpus_is_fresh(tmp_path):
    fresh = write_demo_catalog(tmp_path / "catalog.csv").read_bytes()
    assert CORPUS.read_bytes() == fresh, (
        "corpus/catalog.csv differs from the generator; "
        "run `python -m diffscan.democorpus corpus/catalog.csv`"
    )


def test_shape_and_schema(catalog):
    assert list(catalog.columns) == COLUMNS
    assert len(catalog) >= 300
    assert catalog["category"].str.split(" > ").str[0].nunique() >= 6
    assert catalog["category"].nunique() >= 8
    assert catalog["category"].str.count(" > ").between(1, 2).all()


def test_rows_are_valid(catalog):
    assert catalog["listing_id"].is_unique
    assert catalog["listing_id"].str.fullmatch(r"DS-\d{4}").all()
    assert (catalog["title"].str.strip() != "").all()
    assert (catalog["url"] == "https://shop.example/p/" + catalog["listing_id"]).all()
    rating = catalog["rating"].dropna()
    assert rating.between(1.0, 5.0).all() and (rating.round(1) == rating).all()
    assert catalog["rating"].isna().any()
    assert catalog["review_count"].isna().any()
    assert (catalog["review_count"].dropna() >= 0).all()


def test_prices_exercise_parsing(catalog):
    price = catalog["price"]
    assert price.str.startswith("$").any()
    assert price.str.fullmatch(r"\d+\.\d\d").any()
    assert (price == "£12.50").sum() == 1


def test_crowded_much_larger_than_sparse(catalog):
    counts = leaves(catalog).value_counts()
    assert counts.index[0] == "Water Bottles" and counts.iloc[0] >= 100
    for leaf in CROWDED_LEAVES:
        assert counts[leaf] >= 60
    for leaf in SPARSE_LEAVES:
        assert counts[leaf] <= 8
    assert counts.max() >= 10 * counts.min()


def test_sparse_niches_have_demand(catalog):
    reviews = catalog.assign(leaf=leaves(catalog)).groupby("leaf")["review_count"].median()
    assert reviews[list(SPARSE_LEAVES)].min() > reviews[list(CROWDED_LEAVES)].max()


def test_messy_rows_present(catalog):
    chinese = catalog["title"].str.contains(r"[\u4e00-\u9fff]")
    assert 3 <= chinese.sum() <= 5
    assert catalog["title"].str.contains("☕|🐶").any()
    assert catalog["description"].str.contains("<b>New!</b> &amp; improved").any()
