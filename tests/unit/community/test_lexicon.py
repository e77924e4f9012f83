"""The bilingual lexicon lets paraphrases and translations share concept tokens."""

from __future__ import annotations

from carloop.community.lexicon import CONCEPTS
from carloop.community.similar import SimilarIndex, tokens


def _concepts(text: str) -> set[str]:
    return {t for t in tokens(text) if t.startswith("c:")}


def test_chinese_and_english_forms_of_a_concept_meet() -> None:
    assert "c:cold" in _concepts("天冷以后") & _concepts("in winter")
    assert "c:ice" in _concepts("结冰了") & _concepts("frozen")
    assert "c:charge_port" in _concepts("充电口盖") & _concepts("the charge port flap")


def test_phrases_match_as_whole_words_only() -> None:
    assert "c:climate" in _concepts("turn on the air con")
    assert "c:climate" not in _concepts("airconditioned dreams")  # not a word of the lexicon
    assert "c:hud" in _concepts("head-up display")


def test_every_concept_has_forms_and_no_form_is_blank() -> None:
    for concept, forms in CONCEPTS.items():
        assert forms and all(f.strip() for f in forms), concept


def test_a_translation_ranks_its_original_above_unrelated_posts() -> None:
    index = SimilarIndex()
    index.add(1, "冬天续航衰减太明显")
    index.add(2, "座椅位置不合理")
    index.add(3, "导航声音太小")
    assert index.search("range drops a lot in cold weather", 1)[0][0] == 1
