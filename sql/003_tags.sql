-- Tags with their evidence (issue 5): one row per (article, kind, value, evidence offset), written by
-- pipeline.store.tags inside the loader's transaction and rewritten by `newsflow retag`.

CREATE TABLE article_tags (
    article_id      bigint NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('policy', 'statistics_release', 'issuer', 'doc_type',
                        'policy_title', 'action', 'period', 'topic', 'region', 'stock')),
    value           text NOT NULL,                 -- normalized: 工业和信息化部, 规划, 十四五, sz300024 ...
    score           real NOT NULL CHECK (score >= 0 AND score <= 1),
    evidence        text NOT NULL,                 -- the matched span, as written in the article
    evidence_offset integer NOT NULL,              -- char offset in title || E'\n' || body_text; -1 = metadata
    tagger_version  text NOT NULL,                 -- taxonomy version + code version, e.g. policy_v1+1
    tagged_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, kind, value, evidence_offset)
);
CREATE INDEX article_tags_kind_value_idx ON article_tags (kind, value);
CREATE INDEX article_tags_version_idx ON article_tags (tagger_version);
COMMENT ON TABLE article_tags IS 'Explainable tags: kind/value with a score, the evidence span and its offset, and the tagger version that wrote them.';
COMMENT ON COLUMN article_tags.evidence_offset IS 'Character offset of evidence in title || E''\n'' || body_text (0-based); -1 when the tag comes from metadata.';
COMMENT ON COLUMN article_tags.score IS 'Confidence 0..1. Issuers >= 0.8 issued the document; stock tags are page hints (<= 0.3).';

-- One row per policy-document article: who issued what, of which type, for which period and topics.
-- Issuers are the bodies that issued the document (score >= 0.8), not every body mentioned.
CREATE VIEW policy_documents AS
SELECT
    a.article_id,
    a.published_at,
    a.title,
    coalesce(a.canonical_url, a.link_url) AS url,
    p.score,
    p.tagger_version,
    ARRAY(SELECT t.value FROM article_tags t WHERE t.article_id = a.article_id AND t.kind = 'issuer'
          AND t.score >= 0.8 ORDER BY t.evidence_offset) AS issuers,
    ARRAY(SELECT t.value FROM article_tags t WHERE t.article_id = a.article_id AND t.kind = 'doc_type'
          AND t.score >= 0.8 ORDER BY t.evidence_offset) AS doc_types,
    ARRAY(SELECT t.value FROM article_tags t WHERE t.article_id = a.article_id AND t.kind = 'policy_title'
          ORDER BY t.score DESC, t.evidence_offset) AS policy_titles,
    ARRAY(SELECT t.value FROM article_tags t WHERE t.article_id = a.article_id AND t.kind = 'period'
          ORDER BY t.evidence_offset) AS periods,
    ARRAY(SELECT t.value FROM article_tags t WHERE t.article_id = a.article_id AND t.kind = 'topic'
          ORDER BY t.score DESC, t.evidence_offset) AS topics
FROM articles a
JOIN article_tags p ON p.article_id = a.article_id AND p.kind = 'policy' AND p.value = 'policy_document';
COMMENT ON VIEW policy_documents IS 'One row per article tagged as about a policy document: issuers (that issued it), document types, titles, periods, topics, verdict score.';

GRANT SELECT ON article_tags, policy_documents TO newsflow_reader;
