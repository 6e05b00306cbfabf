-- Stock links with provenance (issue 12): every way an article was linked to a stock, with how sure.
-- Written by pipeline.store.stocks from pipeline.tag.stocks in the loader's transaction; `newsflow
-- retag` rebuilds them. stock_news lists a code's articles by time.

CREATE TABLE article_stocks (
    article_id      bigint NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
    code            text NOT NULL,
    via             text NOT NULL CHECK (via IN ('code_in_text', 'feed_ext', 'name_in_text', 'page_tag', 'page_keywords')),
    name            text,
    confidence      real NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    evidence        text NOT NULL,
    evidence_offset integer NOT NULL,
    stocks_version  text NOT NULL,
    PRIMARY KEY (article_id, code, via)
);
CREATE INDEX article_stocks_code_idx ON article_stocks (code, confidence DESC);
COMMENT ON TABLE article_stocks IS 'Which stocks an article is linked to and how each link was found; one row per (article, code, way found).';
COMMENT ON COLUMN article_stocks.article_id IS 'The article (articles.article_id).';
COMMENT ON COLUMN article_stocks.code IS 'Exchange prefix + symbol, lower case: sh600519, sz300024, bj835670, hk00700, usstock:jpm.';
COMMENT ON COLUMN article_stocks.via IS 'How it was found: code_in_text (the text prints the code: 贵州茅台（600519）, 600519.SH), feed_ext (a 7x24 flash''s ext.stocks), name_in_text (the anchor stands as a word beside 股价/公告/涨停 ...), page_tag (the page''s automatic stock link: a hint), page_keywords (a code of the page''s news_keyword_pub comment).';
COMMENT ON COLUMN article_stocks.name IS 'Short name the link gives (the anchor text, or the words before a printed code), when it gives one.';
COMMENT ON COLUMN article_stocks.confidence IS '0..1, fixed per way by the taxonomy (code_in_text 0.95, feed_ext 0.8, name_in_text 0.6, page_tag 0.3, page_keywords 0.2); 0.05 for a page tag whose anchor only occurs inside a longer word (数字人 in 数字人文).';
COMMENT ON COLUMN article_stocks.evidence IS 'The words that decided the link, as written in the article.';
COMMENT ON COLUMN article_stocks.evidence_offset IS 'Character offset of evidence in title || E''\n'' || body_text; -1 when the text does not hold it.';
COMMENT ON COLUMN article_stocks.stocks_version IS 'pipeline.tag.stocks.STOCKS_VERSION that wrote the row.';

-- A code's news by time: one row per (code, article), the most confident way first in vias.
CREATE VIEW stock_news AS
SELECT s.code,
       (array_agg(s.name ORDER BY s.confidence DESC, s.via) FILTER (WHERE s.name IS NOT NULL))[1] AS name,
       a.article_id, a.published_at, a.media, a.title, coalesce(a.canonical_url, a.link_url) AS url,
       a.story_id, (a.article_id = a.story_id) AS first_report,
       max(s.confidence) AS confidence,
       array_agg(s.via ORDER BY s.confidence DESC, s.via) AS vias,
       (array_agg(s.evidence ORDER BY s.confidence DESC, s.via))[1] AS evidence
FROM article_stocks s JOIN articles a USING (article_id)
GROUP BY s.code, a.article_id;
COMMENT ON VIEW stock_news IS 'Articles about a stock, one row per (code, article): its best confidence, every way it was found (vias, most confident first) and the deciding evidence. Filter on confidence >= 0.6 for links the text supports; page_tag alone (0.3) is a hint.';

GRANT SELECT ON article_stocks, stock_news TO newsflow_reader;
