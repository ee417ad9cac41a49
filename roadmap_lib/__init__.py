"""roadmap_lib: the code the roadmap book's chapters import.

Like d2l's ``d2l`` package, each chapter teaches with short cells and keeps the logic it reuses here,
typed, documented and unit-tested. One module per part of the article:

- ``nlp``, ``knowledge``  Part I   (book/01_nlp.ipynb): MiniLM, the project's GPT-2, TransE, GCN, grounded QA
- ``multimodal``          Part II  (book/02_multimodal.ipynb): dual encoder, fusion, VQA, captioning, SSL
- ``rl``                  Part III (book/03_reinforcement_learning.ipynb): DQN, REINFORCE, A2C, bandits
- ``compression``         Part IV  (book/04_compression.ipynb): pruning, quantization, AMP, distillation, export
- ``responsible``         Part V   (book/05_responsible_ai.ipynb): attributions, fairness, mitigation, energy

plus small shared helpers:

- ``runtime``     seeding, threads, devices, timing, progress bars, version lines
- ``validation``  the argument checks every public function starts with
- ``plotting``    one figure style for the whole book (CJK-aware)
- ``diagrams``    the article's mermaid diagrams as networkx graphs
- ``data``        offline data loaders, each naming its source and licence
- ``benchmark``   long studies run by ``make benchmarks``; their JSON results are committed
"""

__version__ = "0.1.0"
