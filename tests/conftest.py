"""Shared test set-up: deterministic, offline, quiet."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ROADMAP_PROGRESS", "0")

import matplotlib

matplotlib.use("Agg")
