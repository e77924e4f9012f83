"""Offline similar-text search for Chinese and English: character n-grams in an inverted index.

Chinese is matched on character bigrams (single characters carry little meaning and appear
everywhere); English on whole words (lightly stemmed) plus character trigrams of each word, which
tolerates typos and word forms. A small bilingual glossary adds one shared concept token for common
car terms so "座椅加热" and "seat heating" meet. Documents are scored by BM25 over binary term
weights (mild length normalisation); beyond its three rarest terms, a query skips terms found in
more than 2% of the corpus (they carry almost no weight and would cost the most). Plain Python,
nothing downloaded, no model files; numpy sums the posting lists.
"""

from __future__ import annotations

import math
import re
import unicodedata
from array import array
from collections.abc import Iterable

import numpy as np

from carloop.community.lexicon import CONCEPTS

_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "my",
        "of",
        "on",
        "or",
        "please",
        "should",
        "so",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "too",
        "was",
        "we",
        "when",
        "which",
        "while",
        "will",
        "with",
        "would",
        "you",
        "your",
        "our",
        "me",
        "us",
        "it's",
        "not",
        "no",
    }
)
_CJK_STOP = frozenset(
    {"希望", "建议", "可以", "能够", "一下", "一个", "我们", "的时", "时候", "能不", "不能"}
)

# Common car terms in both languages -> one concept token (lets a Chinese idea find its English twin).
GLOSSARY: dict[str, tuple[str, ...]] = {
    "seat": ("座椅", "seat", "seats"),
    "heat": ("加热", "heating", "heated", "heater", "heat"),
    "vent": ("通风", "ventilation", "ventilated"),
    "charge": ("充电", "charging", "charger", "charge"),
    "range": ("续航", "range"),
    "battery": ("电池", "battery"),
    "navi": ("导航", "navigation", "navi", "maps"),
    "voice": ("语音", "voice"),
    "ota": ("升级", "ota", "update", "updates", "upgrade"),
    "app": ("手机", "app", "phone"),
    "key": ("钥匙", "key", "keys"),
    "camera": ("摄像", "camera", "cameras"),
    "park": ("泊车", "停车", "parking", "park"),
    "screen": ("屏幕", "中控", "screen", "display"),
    "music": ("音乐", "music", "spotify"),
    "climate": ("空调", "climate", "air", "ac"),
    "wiper": ("雨刮", "wiper", "wipers"),
    "trunk": ("后备", "备箱", "trunk", "boot"),
    "mirror": ("后视", "视镜", "mirror", "mirrors"),
    "light": ("大灯", "灯光", "headlight", "headlights", "lights"),
    "door": ("车门", "door", "doors"),
    "tire": ("轮胎", "胎压", "tire", "tyre", "tires", "tyres"),
    "sound": ("音响", "噪音", "speaker", "speakers", "noise"),
    "delivery": ("交付", "提车", "delivery"),
    "service": ("保养", "维修", "service", "maintenance", "repair"),
    "pet": ("宠物", "pet", "dog"),
    "child": ("儿童", "孩子", "child", "kids"),
    "cruise": ("巡航", "cruise"),
    "lane": ("车道", "lane"),
}
_CONCEPT = {term: f"c:{concept}" for concept, terms in GLOSSARY.items() for term in terms}
_ZH_LEXICON: dict[str, set[str]] = {}  # a Chinese form -> its concept tokens
_EN_LEXICON: dict[str, set[str]] = {}  # an English form's words joined by one space -> its concept tokens
for _concept, _forms in CONCEPTS.items():
    for _form in _forms:
        _normal = unicodedata.normalize("NFKC", _form).lower()
        if _CJK.fullmatch(_normal) or re.fullmatch(r"[\u3400-\u9fff\uf900-\ufaff]+", _normal):
            _ZH_LEXICON.setdefault(_normal, set()).add(f"c:{_concept}")
        elif not _CJK.search(_normal):
            _EN_LEXICON.setdefault(" ".join(re.findall(r"[a-z0-9]+", _normal)), set()).add(f"c:{_concept}")
_ZH_MAX = max(map(len, _ZH_LEXICON))
_EN_MAX = max(len(form.split()) for form in _EN_LEXICON)
K1, B = 1.2, 0.2  # BM25 saturation and length normalisation
SKIP_SHARE = 0.02
MIN_CORPUS = 1000
MAX_FACTOR = (K1 + 1) / (1 + K1 * (1 - B))  # the BM25 length factor's upper bound (an empty text)
ALWAYS_USED = 3  # the rarest query terms are always scored, however common


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> set[str]:
    """The index terms of a text: CJK bigrams, English stems and their trigrams, lexicon concepts."""
    normal = unicodedata.normalize("NFKC", text).lower()
    out: set[str] = set()
    words: list[str] = []
    for run in _RUNS.findall(normal):
        if _CJK.match(run):
            _zh_concepts(run, out)
            if len(run) == 1:
                out.add(run)
                continue
            for i in range(len(run) - 1):
                gram = run[i : i + 2]
                if gram in _CONCEPT:
                    out.add(_CONCEPT[gram])
                if gram not in _CJK_STOP:
                    out.add(gram)
            continue
        words.append(run)
        if run in STOPWORDS:
            continue
        if run in _CONCEPT:
            out.add(_CONCEPT[run])
        stem = _stem(run)
        out.add("w:" + stem)
        if len(stem) > 3:
            padded = f"^{stem}$"
            out.update("t:" + padded[i : i + 3] for i in range(len(padded) - 2))
    for i in range(len(words)):
        for n in range(1, _EN_MAX + 1):
            found = _EN_LEXICON.get(" ".join(words[i : i + n]))
            if found:
                out.update(found)
    return out


def _zh_concepts(run: str, out: set[str]) -> None:
    """Add the concept of every lexicon form found anywhere in a run of Chinese characters."""
    for i in range(len(run)):
        for n in range(1, min(_ZH_MAX, len(run) - i) + 1):
            found = _ZH_LEXICON.get(run[i : i + n])
            if found:
                out.update(found)


class SimilarIndex:
    """An inverted index over short texts, queried for the most similar ones.

    Each text gets a dense slot; posting lists hold slots in ``array`` buffers that numpy reads
    without copying, so a lookup sums term weights with one ``bincount`` instead of a Python loop.
    """

    def __init__(self) -> None:
        self._postings: dict[str, array[int]] = {}
        self._terms: dict[int, frozenset[str]] = {}
        self._slot: dict[int, int] = {}  # doc_id -> slot
        self._ids = array("q")  # slot -> doc_id
        self._lengths = array("d")  # slot -> number of terms (0 once removed)
        self._total_terms = 0
        self._idf_cache: dict[str, float] = {}
        self._size_at_cache = -1

    def __len__(self) -> int:
        return len(self._terms)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._terms

    def add(self, doc_id: int, text: str) -> None:
        """Index a text under ``doc_id`` (re-adding replaces the old text)."""
        if doc_id in self._terms:
            self.remove(doc_id)
        terms = frozenset(tokens(text))
        slot = len(self._ids)
        self._ids.append(doc_id)
        self._lengths.append(float(len(terms)))
        self._slot[doc_id] = slot
        self._terms[doc_id] = terms
        self._total_terms += len(terms)
        for term in terms:
            postings = self._postings.get(term)
            if postings is None:
                self._postings[term] = array("q", (slot,))
            else:
                postings.append(slot)

    def add_many(self, docs: Iterable[tuple[int, str]]) -> None:
        """Index many texts."""
        for doc_id, text in docs:
            self.add(doc_id, text)

    def remove(self, doc_id: int) -> None:
        """Forget ``doc_id``."""
        terms = self._terms.pop(doc_id, None)
        if terms is None:
            return
        slot = self._slot.pop(doc_id)
        self._lengths[slot] = 0.0
        self._total_terms -= len(terms)
        for term in terms:
            postings = self._postings[term]
            postings.remove(slot)
            if not postings:
                del self._postings[term]

    def _idf(self, term: str) -> float:
        if self._size_at_cache != len(self._terms):
            self._idf_cache.clear()
            self._size_at_cache = len(self._terms)
        idf = self._idf_cache.get(term)
        if idf is None:
            # A small board is weighed as if it had MIN_CORPUS texts, so a few posts do not make every
            # word look rare (and the 0..1 score stays "the share of what was typed that matches").
            n, df = max(len(self._terms), MIN_CORPUS), len(self._postings.get(term, ()))
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            self._idf_cache[term] = idf
        return idf

    def search(self, text: str, limit: int = 5, *, exclude: Iterable[int] = ()) -> list[tuple[int, float]]:
        """The ``limit`` most similar indexed texts as (doc_id, score in 0..1), best first."""
        query = tokens(text)
        if not query or not self._terms:
            return []
        ceiling = max(200, int(len(self._terms) * SKIP_SHARE))
        weights = {t: self._idf(t) for t in query}
        best_possible = sum(weights.values()) * MAX_FACTOR or 1.0
        lists: list[np.ndarray] = []
        list_weights: list[float] = []
        for rank, term in enumerate(sorted(weights, key=lambda t: len(self._postings.get(t, ())))):
            postings = self._postings.get(term)
            if not postings:
                continue
            if rank >= ALWAYS_USED and len(postings) > ceiling:
                break  # every later term is as common or more: little weight, most of the cost
            lists.append(np.frombuffer(postings, dtype=np.int64))
            list_weights.append(weights[term])
        if not lists:
            return []
        slots = np.concatenate(lists)
        sizes = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        raw = np.bincount(slots, weights=np.repeat(np.asarray(list_weights), sizes), minlength=len(self._ids))
        for doc_id in exclude:
            slot = self._slot.get(doc_id)
            if slot is not None:
                raw[slot] = 0.0
        hit = np.flatnonzero(raw)
        lengths = np.frombuffer(self._lengths, dtype=np.float64)[hit]
        average = max(self._total_terms / max(1, len(self._terms)), 1.0)
        scores = raw[hit] * (K1 + 1) / (1 + K1 * (1 - B + B * lengths / average))
        scores[lengths == 0] = 0.0  # removed texts
        top = np.argpartition(-scores, limit)[:limit] if len(scores) > limit else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            (int(self._ids[hit[i]]), min(1.0, float(scores[i]) / best_possible)) for i in top if scores[i] > 0
        ]
