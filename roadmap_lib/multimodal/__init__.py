"""Part II (多模态融合): image–text pairs, a CLIP-style dual encoder, four fusion operators, and the
applications and future directions the article lists, all small enough to train on one CPU core in
seconds. The chapter imports everything from here; the modules split the work:

- ``captions``     real digit images, bilingual captions from measured properties, tokenizer, vocabulary
- ``towers``       the image and text towers every model shares, and the shared training loop
- ``contrastive``  the article's contrastive loss fixed, the dual encoder, zero-shot and retrieval (2.1.2)
- ``fusion``       sum (the article's), concat, gated and cross-attention fusion on bilingual VQA (2.1.1)
- ``captioning``   a bilingual GRU captioner scored by its content words (2.2)
- ``sentiment``    a synthetic multimodal sentiment set: early vs late fusion (2.2)
- ``selfsup``      SimCLR pre-training and a linear probe against supervised baselines (2.3)
- ``compress``     distillation and int8 weights for the dual encoder (2.3)
- ``studies``      the recorded benchmark (``python -m roadmap_lib.multimodal benchmark``)
"""

from .captioning import CaptionConfig, Captioner, caption_targets, caption_vocab, content_match, train_captioner
from .captions import (
    CAPTION_TEMPLATE,
    CONTENT_SLOTS,
    DIGIT_WORDS,
    EOS,
    LANGUAGES,
    PAD,
    SPECIALS,
    TEMPLATES,
    UNK,
    WORDS,
    PairedDigits,
    PropertyThresholds,
    Vocab,
    caption_corpus,
    class_prompts,
    paired_digits,
    plot_digits,
    render,
    stroke_features,
    tokenize,
)
from .compress import distil_dual_encoder, int8_weights, state_dict_bytes
from .contrastive import (
    ClipConfig,
    DualEncoder,
    class_embeddings,
    clip_loss,
    recall_at_k,
    retrieval_recall,
    train_dual_encoder,
    zero_shot_accuracy,
)
from .fusion import (
    ANSWERS,
    FUSIONS,
    NO,
    QUESTION_TYPES,
    QUESTIONS,
    YES,
    ConcatFusion,
    CrossAttentionFusion,
    GatedFusion,
    SumFusion,
    VQAConfig,
    VQAModel,
    VQASet,
    flop_breakdown,
    model_cost,
    question_vocab,
    train_vqa,
    vqa_predict,
    vqa_questions,
)
from .selfsup import SSLConfig, augment, few_labels, linear_probe, nt_xent, simclr_pretrain, tower_features, train_supervised
from .sentiment import AUDIO_FEATURES, SENTIMENT_KINDS, SENTIMENT_WORDS, sentiment_fusion_table, synthetic_sentiment
from .studies import BENCHMARKS
from .towers import ImageTower, TextTower, train_steps
