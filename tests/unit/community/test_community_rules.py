"""Pure board rules and the similar-text index."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from carloop.community import rules
from carloop.community.rules import SuggestionStatus as S
from carloop.community.similar import SimilarIndex, tokens


def test_the_roadmap_runs_forward_and_shipped_is_final() -> None:
    path = [S.SUBMITTED, S.UNDER_REVIEW, S.PLANNED, S.IN_DEVELOPMENT, S.SHIPPED]
    assert all(rules.may_move(a, b) for a, b in itertools.pairwise(path))
    assert not any(rules.may_move(S.SHIPPED, s) for s in S)
    assert not rules.may_move(S.SUBMITTED, S.SHIPPED)
    assert rules.needs_reason(S.DECLINED) and not rules.needs_reason(S.PLANNED)


@given(st.integers(min_value=0, max_value=500), st.integers(min_value=0, max_value=500))
def test_reopening_needs_enough_no_answers_and_a_majority_share(yes: int, no: int) -> None:
    assert rules.should_reopen(yes, no) == (no >= rules.REOPEN_MIN_NO and no >= yes)


def test_chinese_is_indexed_as_bigrams_and_english_as_stems_and_trigrams() -> None:
    assert {"座椅", "通风"} <= tokens("座椅通风")
    assert {"w:seat", "t:sea"} <= tokens("Seats")
    assert "w:the" not in tokens("the seats")
    assert "c:seat" in tokens("座椅") and "c:seat" in tokens("seat")


def test_the_index_ranks_the_closest_text_first_and_forgets_removed_ones() -> None:
    index = SimilarIndex()
    index.add_many(
        [
            (1, "希望增加座椅通风功能"),
            (2, "导航语音播报太小声"),
            (3, "Heated steering wheel"),
            (4, "方向盘加热"),
        ]
    )
    assert index.search("座椅能加通风吗", 1)[0][0] == 1
    assert index.search("heated steering wheel please", 1)[0][0] == 3
    assert index.search("steering wheel heating", 2)[0][0] in (3, 4)
    index.remove(1)
    assert all(doc != 1 for doc, _ in index.search("座椅通风", 5))
    index.add(1, "导航语音")  # re-adding replaces the text
    assert index.search("导航语音", 2)[0][0] in (1, 2)
    assert index.search("座椅通风", 5) == []


@given(st.text(max_size=60))
def test_any_text_can_be_indexed_and_searched(text: str) -> None:
    index = SimilarIndex()
    index.add(1, text)
    for _, score in index.search(text, 3):
        assert 0.0 <= score <= 1.0 + 1e-9
