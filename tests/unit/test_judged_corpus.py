"""The judged corpus: its frozen test split is unchanged, its split rule holds, every record parses."""

from __future__ import annotations

import itertools

from tests.helpers import fixture_corpus

corpus = fixture_corpus("judged")

# Recorded in tests/fixtures/judged/README.md when the test split was frozen. A change here means
# someone edited the test split: that is allowed only by adding a new frozen file, never by fitting.
FROZEN = {
    "test.jsonl": "7299fc5dddce5ec1c2be9fefc2ac5072065f880bbc28acce910089a1245871b2",
    "pairs_test.tsv": "c451354d31ed435340f732098adf75db980484fb3b56e5dc1a6be0b46a856ea9",
}
VERDICTS = {"policy", "statistics_release", "neither"}


def test_frozen_test_split_is_unchanged() -> None:
    assert corpus.frozen_files() == FROZEN
    readme = (corpus.HERE / "README.md").read_text(encoding="utf-8")
    for name, digest in FROZEN.items():
        assert f"{name}" in readme and digest in readme


def test_each_post_sits_in_the_split_its_key_hashes_to() -> None:
    posts = corpus.load_posts()
    assert len({p.key for p in posts}) == len(posts)
    for p in posts:
        assert p.split == corpus.split_of(p.key), p.key
    assert sum(p.split == "test" for p in posts) / len(posts) >= 0.30


def test_every_post_parses_with_title_date_and_lead() -> None:
    for p in corpus.load_posts():
        assert p.verdict in VERDICTS
        assert p.article.title and p.article.published_at is not None
        assert len(p.article.body_text) >= 40, p.key
        # Policy posts name who issued what (or say in the note why they cannot).
        if p.verdict == "policy":
            # a document has its type; an official action without one (a rate decision) names its body
            assert p.doc_types or p.issuers, p.key
            assert p.issuers or "issuer" in p.note, p.key
        if p.verdict == "neither":
            assert not p.issuers and not p.doc_types, p.key


def test_pairs_name_known_posts_and_keep_test_posts_out_of_dev() -> None:
    posts = {p.key: p for p in corpus.load_posts()}
    pairs = corpus.load_pairs()
    assert len({frozenset((q.a, q.b)) for q in pairs}) == len(pairs)
    for q in pairs:
        assert q.a in posts and q.b in posts and q.a != q.b
        in_test = "test" in (posts[q.a].split, posts[q.b].split)
        assert q.split == ("test" if in_test else "dev"), (q.a, q.b)
    # Every pair of the corpus is labelled: listed ones by the files, the rest "different" by the README.
    assert len(list(itertools.combinations(posts, 2))) >= 300
