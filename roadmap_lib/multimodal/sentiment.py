"""2.2 Multimodal sentiment on a clearly synthetic set whose modalities carry complementary evidence:
single modalities, late fusion and early fusion compared."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from ..validation import require_float, require_int, require_positive_int, require_type


SENTIMENT_WORDS = {
    "positive": ("great", "wonderful", "excellent", "lovely", "perfect", "brilliant"),
    "negative": ("awful", "terrible", "boring", "horrible", "dreadful", "dull"),
    "neutral": ("long", "new", "french", "late", "black", "short"),
}


SENTIMENT_NOUNS = ("film", "meal", "hotel", "concert", "book", "service", "trip", "game")


AUDIO_FEATURES = ("energy", "pitch_range", "pitch_mean", "speech_rate")


SENTIMENT_KINDS = ("plain", "neutral text", "sarcastic")


def synthetic_sentiment(n: int, seed: int = 0, kinds: Sequence[float] = (0.5, 0.25, 0.25),
                        sarcasm_cue: float = 2.5):
    """A **synthetic** utterance set: a sentence and four "voice" features per example, and a
    sentiment label (1 positive). Made up on purpose, so the evidence each modality carries is known:

    - *plain* (default 50%): the sentence's adjective has the label's polarity;
    - *neutral text* (25%): the adjective is neutral, only the voice helps;
    - *sarcastic* (25%): the adjective has the *opposite* polarity, and the voice is flat
      (``pitch_range`` lowered by ``sarcasm_cue`` standard deviations): only text and voice
      *together* give the label.

    ``energy`` is weakly higher for positive utterances (shift ±0.5, noise 1); ``pitch_mean`` and
    ``speech_rate`` are noise. Returns a ``pandas.DataFrame`` (text, the four features, kind, label).
    """
    n = require_positive_int("n", n)
    require_type("kinds", kinds, (list, tuple))
    if len(kinds) != 3 or any(p < 0 for p in kinds) or not math.isclose(sum(kinds), 1.0):
        raise ValueError(f"kinds must be three probabilities (plain, neutral text, sarcastic) summing to 1, got {kinds}")
    sarcasm_cue = require_float("sarcasm_cue", sarcasm_cue, low=0.0)
    rng = np.random.default_rng(require_int("seed", seed, minimum=0))
    label = rng.integers(0, 2, n)
    kind = rng.choice(3, n, p=list(kinds))
    polarity = np.where(kind == 2, 1 - label, label)
    words = [SENTIMENT_WORDS["neutral" if k == 1 else ("positive" if p else "negative")]
             for k, p in zip(kind, polarity)]
    text = [f"the {rng.choice(SENTIMENT_NOUNS)} was {rng.choice(w)}" for w in words]
    audio = rng.normal(size=(n, 4))
    audio[:, 0] += np.where(label == 1, 0.5, -0.5)
    audio[:, 1] -= np.where(kind == 2, sarcasm_cue, 0.0)
    frame = pd.DataFrame(audio, columns=list(AUDIO_FEATURES))
    frame.insert(0, "text", text)
    frame["kind"] = [SENTIMENT_KINDS[k] for k in kind]
    frame["label"] = label
    return frame


def sentiment_fusion_table(train, test, seed: int = 0):
    """Accuracy of text only, voice only, late fusion (average of the two single-modality models'
    probabilities) and early fusion (one model on the concatenated features), overall and per kind.

    Every model is the same small MLP (scikit-learn), so only *where* the modalities meet differs.
    """
    for name, frame in (("train", train), ("test", test)):
        require_type(name, frame, pd.DataFrame)
        missing = {"text", "label", "kind", *AUDIO_FEATURES} - set(frame.columns)
        if missing:
            raise ValueError(f"{name} lacks columns {sorted(missing)}")
    seed = require_int("seed", seed, minimum=0)
    words = CountVectorizer(binary=True).fit(train["text"])
    scaler = StandardScaler().fit(train[list(AUDIO_FEATURES)])
    features = {
        split: {"text": words.transform(f["text"]).toarray(), "voice": scaler.transform(f[list(AUDIO_FEATURES)])}
        for split, f in (("train", train), ("test", test))
    }

    def fit(x: np.ndarray) -> MLPClassifier:
        return MLPClassifier((32,), max_iter=1000, early_stopping=True, random_state=seed).fit(x, train["label"])

    models = {m: fit(features["train"][m]) for m in ("text", "voice")}
    probs = {m: models[m].predict_proba(features["test"][m])[:, 1] for m in models}
    both = {s: np.hstack([features[s]["text"], features[s]["voice"]]) for s in features}
    preds = {
        "text only": probs["text"] > 0.5,
        "voice only": probs["voice"] > 0.5,
        "late fusion": (probs["text"] + probs["voice"]) / 2 > 0.5,
        "early fusion": fit(both["train"]).predict(both["test"]) == 1,
    }
    rows = {}
    for name, pred in preds.items():
        correct = pred.astype(int) == test["label"].to_numpy()
        kinds = {k: (test["kind"] == k).to_numpy() for k in SENTIMENT_KINDS}
        rows[name] = {"all": correct.mean(),
                      **{k: correct[mask].mean() if mask.any() else np.nan for k, mask in kinds.items()}}
    return pd.DataFrame(rows).T
