"""The semantic half of the duplicate hints: fusion rules, the vector index, the language split, storage."""

from __future__ import annotations

import numpy as np

from carloop.community import embedding
from carloop.community.vectors import EXACT, VectorIndex, fuse, language, shown_score


def test_an_exact_lexical_match_stays_first_whatever_the_vectors_say() -> None:
    lexical = [(7, EXACT + 0.05), (1, 0.4), (2, 0.3)]
    same = [(1, 0.9), (2, 0.85), (3, 0.8)]
    other = [(4, 0.8)]
    assert fuse(lexical, same, other, 3)[0][0] == 7


def test_a_text_found_by_meaning_in_the_other_language_makes_the_top_five() -> None:
    lexical = [(i, 0.5 - i / 100) for i in range(1, 11)]  # ten texts sharing words with what was typed
    same = [(i, 0.8 - i / 100) for i in range(11, 21)]  # ten same-language texts near in meaning
    other = [(99, 0.62)]  # the translation, found only by the encoder
    assert 99 in [d for d, _ in fuse(lexical, same, other, 5)]


def test_found_by_both_rankings_beats_found_by_one() -> None:
    lexical = [(1, 0.5), (2, 0.45)]
    same = [(3, 0.9), (2, 0.8)]
    assert fuse(lexical, same, [], 2)[0][0] == 2


def test_one_result_per_distinct_text() -> None:
    lexical = [(1, 0.5), (2, 0.5), (3, 0.4)]
    key = {1: 10, 2: 10, 3: 30}  # 1 and 2 are the same sentence posted twice
    assert [d for d, _ in fuse(lexical, [], [], 5, text_key=key)] == [1, 3]


def test_cosine_is_shown_on_the_lexical_scale() -> None:
    assert shown_score(0.3) == 0.0
    assert shown_score(1.0) == 1.0
    assert 0.0 < shown_score(0.7) < 1.0


def test_language_of_a_text() -> None:
    assert language("座椅加热太慢") == "zh"
    assert language("希望支持苹果CarPlay") == "zh"
    assert language("Heated seats take too long") == "en"
    assert language("please support carplay 谢谢") == "en"


def test_vector_index_finds_adds_replaces_removes_and_excludes() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(50, embedding.DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex()
    index.add_many(list(range(50)), vectors)
    assert len(index) == 50
    assert index.search(vectors[17], 1)[0][0] == 17
    assert 17 not in [d for d, _ in index.search(vectors[17], 5, exclude=[17])]
    index.add(17, vectors[3])  # re-embedded: the old vector is gone
    assert len(index) == 50
    assert {d for d, _ in index.search(vectors[3], 2)} == {3, 17}
    index.remove(17)
    assert 17 not in index
    assert index.memory_bytes > 0


def test_stored_vectors_round_trip_and_bad_bytes_are_no_vector() -> None:
    vector = np.linspace(-0.1, 0.1, embedding.DIM, dtype=np.float32)
    back = embedding.from_bytes(embedding.to_bytes(vector))
    assert back.shape == (embedding.DIM,)
    assert np.allclose(back, vector, atol=1e-3)
    assert len(embedding.from_bytes(b"\x00" * 10)) == 0


def test_the_encoder_puts_a_translation_nearer_than_another_idea() -> None:
    seat, seat_en, charger = embedding.embed(
        ["座椅加热太慢", "the heated seats take ages to warm up", "充电桩找不到"]
    )
    assert abs(float(np.linalg.norm(seat)) - 1.0) < 1e-4
    assert float(seat @ seat_en) > float(seat @ charger)
    assert float(seat_en @ seat) > float(seat_en @ charger)


def test_copies_of_one_text_share_a_vector_and_come_back_together() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(4, embedding.DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex()
    index.add_many([1, 2, 3, 4], vectors[[0, 0, 1, 2]], text_keys=[10, 10, 20, 30])
    assert len(index) == 4 and index.distinct == 3
    assert [d for d, _ in index.search(vectors[0], 1)] == [1, 2]
    assert [d for d, _ in index.search(vectors[0], 1, exclude=[1])] == [2]
    index.remove(1)
    index.remove(2)
    assert index.distinct == 2
    assert 1 not in [d for d, _ in index.search(vectors[0], 3)]
