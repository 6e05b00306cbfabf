-- Policy records (issue 12): one row per policy document, whichever articles reported it, and the
-- links from each article to the documents it reports, publishes in full or explains. Written by
-- pipeline.store.policies from pipeline.tag.records in the loader's transaction; `newsflow retag`
-- rebuilds them. Story timelines: one row per story member with its time, media and headline.

CREATE TABLE policies (
    policy_id        bigserial PRIMARY KEY,
    record_key       text NOT NULL UNIQUE,
    title            text NOT NULL,
    doc_type         text,
    carrier          text,
    is_draft         boolean NOT NULL DEFAULT false,
    doc_number       text,
    agency_code      text,
    doc_year         integer,
    doc_seq          integer,
    issuers          text[] NOT NULL DEFAULT '{}',
    issuer_levels    text[] NOT NULL DEFAULT '{}',
    signed_on        date,
    published_on     date,
    effective_on     date,
    periods          text[] NOT NULL DEFAULT '{}',
    topics           text[] NOT NULL DEFAULT '{}',
    first_reported_at timestamptz,
    last_reported_at timestamptz,
    articles         integer NOT NULL DEFAULT 0,
    records_version  text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policies_doc_number_idx ON policies (doc_number) WHERE doc_number IS NOT NULL;
CREATE INDEX policies_first_reported_idx ON policies (first_reported_at DESC);
COMMENT ON TABLE policies IS 'One row per policy document (a normative document or an official policy action) reported by at least one stored article; folded from article_policies.';
COMMENT ON COLUMN policies.policy_id IS 'Surrogate key; article_policies.policy_id points here.';
COMMENT ON COLUMN policies.record_key IS 'What every article about the document shares: its title folded (NFKC, lower case, no punctuation or 《》), carrier stripped.';
COMMENT ON COLUMN policies.title IS 'The document''s own title as first written by an article, without 《》 and without the 通知 that carries it.';
COMMENT ON COLUMN policies.doc_type IS 'The document''s own type, read from the end of its title: 规划, 意见, 办法, 方案, 通知 ...';
COMMENT ON COLUMN policies.carrier IS 'The document that issues it, when there is one: 通知 for 《关于印发…规划的通知》; NULL otherwise.';
COMMENT ON COLUMN policies.is_draft IS 'True for a draft put out for comment (（征求意见稿）); the final text is another record.';
COMMENT ON COLUMN policies.doc_number IS '发文字号 as printed (国办发〔2021〕22号), when an article gives it.';
COMMENT ON COLUMN policies.agency_code IS '机关代字 of doc_number: 国办发, 工信部联规, 银保监发 ...';
COMMENT ON COLUMN policies.doc_year IS 'Year in doc_number''s 〔〕.';
COMMENT ON COLUMN policies.doc_seq IS 'Sequence number in doc_number (the N of N号).';
COMMENT ON COLUMN policies.issuers IS 'Bodies that issued or adopted the document (joint issuers all listed), as the tagger normalized them, union over its articles.';
COMMENT ON COLUMN policies.issuer_levels IS 'Level of each issuer, same order: 中央 (State Council, Party centre, NPC), 部委 (national bodies), 省, 市.';
COMMENT ON COLUMN policies.signed_on IS '成文日期, when an article that carries the full text gives its date line.';
COMMENT ON COLUMN policies.published_on IS 'Day the document was issued or published, as an article''s sentence naming it says (Beijing date).';
COMMENT ON COLUMN policies.effective_on IS '施行 date (自…起施行/实施), when an article gives it.';
COMMENT ON COLUMN policies.periods IS 'Planning periods named with it: 十四五, 2035年远景目标 ...';
COMMENT ON COLUMN policies.topics IS 'Main topics of its articles (taxonomy topics).';
COMMENT ON COLUMN policies.first_reported_at IS 'Publication time of the earliest stored article about it.';
COMMENT ON COLUMN policies.last_reported_at IS 'Publication time of the latest stored article about it.';
COMMENT ON COLUMN policies.articles IS 'How many stored articles report, publish or explain it.';
COMMENT ON COLUMN policies.records_version IS 'pipeline.tag.records.RECORDS_VERSION that last folded this row.';
COMMENT ON COLUMN policies.updated_at IS 'When this row was last folded from its articles.';

CREATE TABLE article_policies (
    article_id     bigint NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
    policy_id      bigint NOT NULL REFERENCES policies (policy_id) ON DELETE CASCADE,
    role           text NOT NULL CHECK (role IN ('full_text', 'explains', 'reports')),
    evidence       text NOT NULL,
    evidence_offset integer NOT NULL,
    doc_number     text,
    agency_code    text,
    doc_year       integer,
    doc_seq        integer,
    issuers        text[] NOT NULL DEFAULT '{}',
    issuer_levels  text[] NOT NULL DEFAULT '{}',
    signed_on      date,
    published_on   date,
    effective_on   date,
    periods        text[] NOT NULL DEFAULT '{}',
    topics         text[] NOT NULL DEFAULT '{}',
    records_version text NOT NULL,
    PRIMARY KEY (article_id, policy_id)
);
CREATE INDEX article_policies_policy_idx ON article_policies (policy_id);
COMMENT ON TABLE article_policies IS 'Which policy documents an article is about, and how: what that one article says of the document (folded into policies).';
COMMENT ON COLUMN article_policies.article_id IS 'The article (articles.article_id).';
COMMENT ON COLUMN article_policies.policy_id IS 'The document (policies.policy_id).';
COMMENT ON COLUMN article_policies.role IS '''full_text'' (the article carries the document: number, salutation or date line), ''explains'' (a 解读, briefing or Q&A by the issuer''s side), ''reports'' (news of it).';
COMMENT ON COLUMN article_policies.evidence IS 'The document title as written in the article.';
COMMENT ON COLUMN article_policies.evidence_offset IS 'Character offset of evidence in title || E''\n'' || body_text.';
COMMENT ON COLUMN article_policies.doc_number IS '发文字号 this article prints, if any.';
COMMENT ON COLUMN article_policies.agency_code IS '机关代字 of this article''s doc_number.';
COMMENT ON COLUMN article_policies.doc_year IS 'Year of this article''s doc_number.';
COMMENT ON COLUMN article_policies.doc_seq IS 'Sequence number of this article''s doc_number.';
COMMENT ON COLUMN article_policies.periods IS 'Planning periods this article names with the document.';
COMMENT ON COLUMN article_policies.topics IS 'This article''s main topics.';
COMMENT ON COLUMN article_policies.issuers IS 'Issuers this article names for the document.';
COMMENT ON COLUMN article_policies.issuer_levels IS 'Their levels (中央/部委/省/市), same order.';
COMMENT ON COLUMN article_policies.signed_on IS '成文日期 this article gives.';
COMMENT ON COLUMN article_policies.published_on IS 'Issue date this article gives.';
COMMENT ON COLUMN article_policies.effective_on IS '施行 date this article gives.';
COMMENT ON COLUMN article_policies.records_version IS 'pipeline.tag.records.RECORDS_VERSION that wrote the link.';

-- One row per document with how widely it was reported: articles and distinct stories.
CREATE VIEW policy_records AS
SELECT p.policy_id, p.title, p.doc_type, p.carrier, p.is_draft, p.doc_number, p.agency_code, p.doc_year,
       p.doc_seq, p.issuers, p.issuer_levels, p.signed_on, p.published_on, p.effective_on, p.periods,
       p.topics, p.first_reported_at, p.last_reported_at, p.articles,
       (SELECT count(DISTINCT a.story_id) FROM article_policies ap JOIN articles a USING (article_id)
         WHERE ap.policy_id = p.policy_id) AS stories,
       (SELECT array_agg(ap.article_id ORDER BY a.published_at, ap.article_id)
          FROM article_policies ap JOIN articles a USING (article_id)
         WHERE ap.policy_id = p.policy_id) AS article_ids
FROM policies p;
COMMENT ON VIEW policy_records IS 'Policy documents with their reporting: first/last reported, how many articles and distinct stories, the articles in time order.';

-- Every story member in time order: when, which media, which headline, how it joined.
CREATE VIEW story_timeline AS
SELECT a.story_id, a.article_id, a.published_at, a.media, a.title,
       coalesce(a.canonical_url, a.link_url) AS url, a.dup_verdict,
       (a.article_id = a.story_id) AS first_report,
       row_number() OVER (PARTITION BY a.story_id ORDER BY a.published_at NULLS LAST, a.article_id) AS position,
       count(*) OVER (PARTITION BY a.story_id) AS reports
FROM articles a;
COMMENT ON VIEW story_timeline IS 'One row per article, grouped by story: its time, media and headline, its place in the story (position of reports) and whether it is the first report.';

GRANT SELECT ON policies, article_policies, policy_records, story_timeline TO newsflow_reader;
