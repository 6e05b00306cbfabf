-- Every column of every table and view explained where psql's \d+ and BI tools show it (issue 14).
-- Columns commented in earlier migrations keep their comments.

COMMENT ON COLUMN alerts.alert_id IS 'Surrogate key.';

COMMENT ON COLUMN article_latency.article_id IS 'The article (articles.article_id).';
COMMENT ON COLUMN article_latency.source IS 'The feed that listed it (feed_items.source).';
COMMENT ON COLUMN article_latency.item_key IS 'Its key in that feed (feed_items.item_key).';
COMMENT ON COLUMN article_latency.published_at IS 'Publication time the feed gave (UTC).';
COMMENT ON COLUMN article_latency.listed_at IS 'When a run first saw it listed (feed_items.first_seen_at).';
COMMENT ON COLUMN article_latency.fetched_at IS 'When its page was fetched (raw_pages.fetched_at); NULL for 7x24 flashes, whose text is in the feed.';
COMMENT ON COLUMN article_latency.stored_at IS 'When the article row was inserted (articles.stored_at, wall clock).';
COMMENT ON COLUMN article_latency.searchable_at IS 'When search_articles can find it: the commit of the transaction that stored it, within the batch after stored_at.';
COMMENT ON COLUMN article_latency.listed_after_s IS 'Seconds from publication to first listed.';
COMMENT ON COLUMN article_latency.fetched_after_s IS 'Seconds from first listed to fetched.';
COMMENT ON COLUMN article_latency.stored_after_s IS 'Seconds from fetched (or listed, for flashes) to stored.';
COMMENT ON COLUMN article_latency.publication_to_searchable_s IS 'Seconds from publication to searchable: what a reader waits.';

COMMENT ON COLUMN article_tags.article_id IS 'The tagged article (articles.article_id).';
COMMENT ON COLUMN article_tags.kind IS 'policy, statistics_release, issuer, doc_type, policy_title, action, period, topic, region or stock.';
COMMENT ON COLUMN article_tags.value IS 'The tag: a normalized issuer name (工业和信息化部), a document type (规划), a stock code (sz300024), policy_document ...';
COMMENT ON COLUMN article_tags.evidence IS 'The text that put the tag there, as written in the article (a reason in [] for demoted stock hints).';
COMMENT ON COLUMN article_tags.tagger_version IS 'Taxonomy version + code version of the tagger that wrote the row (pipeline.tag.TAGGER_VERSION).';
COMMENT ON COLUMN article_tags.tagged_at IS 'When the row last changed.';

COMMENT ON COLUMN article_versions.article_id IS 'The article (articles.article_id).';
COMMENT ON COLUMN article_versions.version IS '1 for the first content seen; each changed title or body adds one.';
COMMENT ON COLUMN article_versions.title IS 'The title of this version.';
COMMENT ON COLUMN article_versions.body_hash IS 'sha256 of this version''s normalized body text.';
COMMENT ON COLUMN article_versions.body_text IS 'This version''s clean body text, paragraphs separated by newlines.';
COMMENT ON COLUMN article_versions.body_html IS 'This version''s sanitized body HTML.';
COMMENT ON COLUMN article_versions.parser_version IS 'The parser that produced this version.';
COMMENT ON COLUMN article_versions.raw_page_id IS 'The raw page it was parsed from (raw_pages.raw_page_id), if any.';
COMMENT ON COLUMN article_versions.recorded_at IS 'When this version was recorded.';

COMMENT ON COLUMN articles.article_id IS 'Surrogate key; story_id and duplicate_of point at it.';
COMMENT ON COLUMN articles.docid IS 'Sina''s document id: comos:<ID> for pages (from doc-i<ID>.shtml), zhibo:<id> for 7x24 flashes; NULL for archive posts. First key of the upsert.';
COMMENT ON COLUMN articles.canonical_url IS 'The page''s URL normalized (https, no query or fragment, desktop host); NULL for flashes and archive posts. Second key of the upsert.';
COMMENT ON COLUMN articles.link_url IS 'Where the item points: a flash''s full article, an archive post''s original page.';
COMMENT ON COLUMN articles.source IS 'The feed or import that first brought it (feed_items.source: roll:155:1686, zhibo:152, hexo ...).';
COMMENT ON COLUMN articles.title IS 'The headline as published (the 原标题, when a re-post gives one, is in original_title).';
COMMENT ON COLUMN articles.original_title IS 'The 原标题 line of a re-post: the title the original publisher gave.';
COMMENT ON COLUMN articles.title_norm IS 'The title folded (NFKC, lower case, no spaces or punctuation): part of the content key.';
COMMENT ON COLUMN articles.body_hash IS 'sha256 of the normalized body text.';
COMMENT ON COLUMN articles.content_key IS 'sha256(title_norm || body_hash): the same title and body is the same article, whatever its URL. Third key of the upsert.';
COMMENT ON COLUMN articles.published_at IS 'Publication time (UTC) from the page, the feed or the post''s front matter.';
COMMENT ON COLUMN articles.media IS 'The publishing medium as the page names it (新华社, 21世纪经济报道 ...).';
COMMENT ON COLUMN articles.author IS 'Author or reporter when the page names one.';
COMMENT ON COLUMN articles.editor IS 'The 责任编辑 (responsible editor) line''s name, without its staff code.';
COMMENT ON COLUMN articles.keywords IS 'The page''s keywords meta tag, split.';
COMMENT ON COLUMN articles.stocks IS 'Stock references the page or feed carries, as JSON [{"code": "sz300024", "name": "机器人"}]; article_stocks has each link with its provenance.';
COMMENT ON COLUMN articles.paragraphs IS 'The clean body as an array of paragraphs (boilerplate, editor and 原标题 lines removed).';
COMMENT ON COLUMN articles.body_text IS 'The clean body text: paragraphs joined by newlines.';
COMMENT ON COLUMN articles.body_html IS 'The body HTML after the sanitizer (allowed tags and attributes only, no scripts or styles).';
COMMENT ON COLUMN articles.images IS 'Images of the body as JSON [{"url": ..., "caption": ...}].';
COMMENT ON COLUMN articles.parser_version IS 'The parser (and layout version) that produced the current content.';
COMMENT ON COLUMN articles.raw_page_id IS 'The raw page the current content was parsed from (raw_pages.raw_page_id).';
COMMENT ON COLUMN articles.version IS 'The current content''s number in article_versions.';
COMMENT ON COLUMN articles.first_seen_at IS 'When the row was first written (transaction start).';
COMMENT ON COLUMN articles.updated_at IS 'When the content (or metadata) last changed.';

COMMENT ON COLUMN coverage_gaps.gap_id IS 'Surrogate key.';

COMMENT ON COLUMN dead_letters.dead_letter_id IS 'Surrogate key (what newsflow dead-letters retry|ignore takes).';
COMMENT ON COLUMN dead_letters.source IS 'The feed or import the item came from.';
COMMENT ON COLUMN dead_letters.item_key IS 'The item''s key in its source; for a discover failure, the window key.';
COMMENT ON COLUMN dead_letters.stage IS 'Where it failed: discover, fetch, parse or load.';
COMMENT ON COLUMN dead_letters.url IS 'The URL that failed, if any.';
COMMENT ON COLUMN dead_letters.error_class IS 'The error''s class name (FetchTimeout, ParseError ...).';
COMMENT ON COLUMN dead_letters.error IS 'The error message: what failed and why.';
COMMENT ON COLUMN dead_letters.raw_page_id IS 'The raw page that failed to parse or load, if any.';
COMMENT ON COLUMN dead_letters.feed_item_id IS 'The feed item, if any (feed_items.feed_item_id).';
COMMENT ON COLUMN dead_letters.run_id IS 'The run that last failed it (ingest_runs.run_id).';
COMMENT ON COLUMN dead_letters.attempts IS 'How many times it has failed.';
COMMENT ON COLUMN dead_letters.first_failed_at IS 'When it first failed.';
COMMENT ON COLUMN dead_letters.last_failed_at IS 'When it last failed.';

COMMENT ON COLUMN dedup_buckets.bucket IS 'A signed 64-bit LSH key: a hash of one MinHash band (bands 0-31), a lead clause (255) or a headline fact (254).';
COMMENT ON COLUMN dedup_buckets.article_id IS 'The article that has this key (articles.article_id).';
COMMENT ON COLUMN dedup_buckets.band IS 'Which kind of key: MinHash band 0..31, 254 headline fact, 255 lead clause.';

COMMENT ON COLUMN dedup_signatures.article_id IS 'The article (articles.article_id).';
COMMENT ON COLUMN dedup_signatures.dedup_version IS 'pipeline.dedup.DEDUP_VERSION that computed the signature and verdict.';
COMMENT ON COLUMN dedup_signatures.minhash IS '128 little-endian uint32 MinHash values of the folded text''s character 5-grams.';
COMMENT ON COLUMN dedup_signatures.shingle_count IS 'How many distinct 5-grams the text has.';
COMMENT ON COLUMN dedup_signatures.text_chars IS 'Length of the folded text that was shingled.';
COMMENT ON COLUMN dedup_signatures.matched_article_id IS 'The story member whose text decided the verdict (NULL for an original).';
COMMENT ON COLUMN dedup_signatures.verdict_reason IS 'Why: identical body, shared text, short text contained, same headline fact, figures differ ...';
COMMENT ON COLUMN dedup_signatures.computed_at IS 'When the signature was last computed.';

COMMENT ON COLUMN feed_items.feed_item_id IS 'Surrogate key.';
COMMENT ON COLUMN feed_items.source IS 'The feed: roll:<pageid>:<lid> (roll API), zhibo:<id> (7x24), rss:<url>, hexo (archive import).';
COMMENT ON COLUMN feed_items.item_key IS 'The item''s stable key within its source: docid for roll items, the flash id, the RSS guid, the archive-relative path.';
COMMENT ON COLUMN feed_items.kind IS 'sina_page (a page to fetch), zhibo_flash (the feed carries the text), hexo_post (an archive post file).';
COMMENT ON COLUMN feed_items.url IS 'The page URL the feed gave, if any.';
COMMENT ON COLUMN feed_items.docid IS 'The docid the feed gave, if any.';
COMMENT ON COLUMN feed_items.title IS 'The title as the feed listed it.';
COMMENT ON COLUMN feed_items.published_at IS 'Publication time the feed gave (UTC).';
COMMENT ON COLUMN feed_items.payload IS 'The feed''s own item as JSON (a flash''s text, an archive post''s path).';
COMMENT ON COLUMN feed_items.first_seen_at IS 'When a run first saw it listed.';
COMMENT ON COLUMN feed_items.last_seen_at IS 'When a run last saw it listed.';
COMMENT ON COLUMN feed_items.raw_page_id IS 'The raw page fetched for it (raw_pages.raw_page_id).';
COMMENT ON COLUMN feed_items.article_id IS 'The article it became (articles.article_id).';

COMMENT ON COLUMN ingest_runs.run_id IS 'Surrogate key.';
COMMENT ON COLUMN ingest_runs.run_key IS 'Airflow dag_id/run_id, or cli/<uuid> for a command-line run: a retried task reopens its run.';
COMMENT ON COLUMN ingest_runs.kind IS 'ingest (a window), live (news_live), archive (an import), reparse ...';
COMMENT ON COLUMN ingest_runs.window_start IS 'Start of the run''s window (inclusive), after the overlap.';
COMMENT ON COLUMN ingest_runs.window_end IS 'End of the run''s window (exclusive).';
COMMENT ON COLUMN ingest_runs.started_at IS 'When the run began.';
COMMENT ON COLUMN ingest_runs.finished_at IS 'When the run ended (NULL while running).';
COMMENT ON COLUMN ingest_runs.discovered IS 'New feed items the run listed.';
COMMENT ON COLUMN ingest_runs.fetched IS 'Pages fetched.';
COMMENT ON COLUMN ingest_runs.skipped IS 'Items already stored, not fetched again.';
COMMENT ON COLUMN ingest_runs.parsed IS 'Items parsed into articles.';
COMMENT ON COLUMN ingest_runs.duplicates IS 'Articles the run found to be near or exact duplicates of stored ones.';
COMMENT ON COLUMN ingest_runs.failed IS 'Items that failed for the first time in this run (now dead letters).';
COMMENT ON COLUMN ingest_runs.refailed IS 'Earlier dead letters this run retried that failed again.';
COMMENT ON COLUMN ingest_runs.loaded IS 'Articles inserted, or changed into a new version.';
COMMENT ON COLUMN ingest_runs.error IS 'Why the run failed or is degraded, if it is.';

COMMENT ON COLUMN policy_documents.article_id IS 'The article (articles.article_id).';
COMMENT ON COLUMN policy_documents.published_at IS 'Its publication time (UTC).';
COMMENT ON COLUMN policy_documents.title IS 'Its headline.';
COMMENT ON COLUMN policy_documents.url IS 'Its canonical URL, or where the item links.';
COMMENT ON COLUMN policy_documents.score IS 'The policy verdict''s score (article_tags.score).';
COMMENT ON COLUMN policy_documents.tagger_version IS 'The tagger version that gave the verdict.';
COMMENT ON COLUMN policy_documents.issuers IS 'Bodies that issued the document (issuer tags with score >= 0.8), in text order.';
COMMENT ON COLUMN policy_documents.doc_types IS 'The document''s own types (doc_type tags with score >= 0.8).';
COMMENT ON COLUMN policy_documents.policy_titles IS 'The 《titles》 the article names, most likely first.';
COMMENT ON COLUMN policy_documents.periods IS 'Planning periods named (十四五 ...).';
COMMENT ON COLUMN policy_documents.topics IS 'Topics, most prominent first.';

COMMENT ON COLUMN policy_records.policy_id IS 'The document (policies.policy_id).';
COMMENT ON COLUMN policy_records.title IS 'Its title, without 《》 and its carrier.';
COMMENT ON COLUMN policy_records.doc_type IS 'Its own type (规划, 意见, 办法 ...).';
COMMENT ON COLUMN policy_records.carrier IS 'The document that issued it (通知), if any.';
COMMENT ON COLUMN policy_records.is_draft IS 'A draft put out for comment.';
COMMENT ON COLUMN policy_records.doc_number IS '发文字号 as printed.';
COMMENT ON COLUMN policy_records.agency_code IS '机关代字 of the 发文字号.';
COMMENT ON COLUMN policy_records.doc_year IS 'Year of the 发文字号.';
COMMENT ON COLUMN policy_records.doc_seq IS 'Number of the 发文字号.';
COMMENT ON COLUMN policy_records.issuers IS 'Issuing bodies, as policies.issuers.';
COMMENT ON COLUMN policy_records.issuer_levels IS 'Their levels: 中央, 部委, 省, 市.';
COMMENT ON COLUMN policy_records.signed_on IS '成文日期.';
COMMENT ON COLUMN policy_records.published_on IS 'Issue date.';
COMMENT ON COLUMN policy_records.effective_on IS '施行 date.';
COMMENT ON COLUMN policy_records.periods IS 'Planning periods.';
COMMENT ON COLUMN policy_records.topics IS 'Topics.';
COMMENT ON COLUMN policy_records.first_reported_at IS 'Publication time of its first stored article.';
COMMENT ON COLUMN policy_records.last_reported_at IS 'Publication time of its latest stored article.';
COMMENT ON COLUMN policy_records.articles IS 'How many stored articles are about it.';
COMMENT ON COLUMN policy_records.stories IS 'How many distinct stories those articles form.';
COMMENT ON COLUMN policy_records.article_ids IS 'Those articles, in publication order.';

COMMENT ON COLUMN raw_pages.raw_page_id IS 'Surrogate key.';
COMMENT ON COLUMN raw_pages.url IS 'The requested URL, or archive:<path> / zhibo:<id> for content that needs no request.';
COMMENT ON COLUMN raw_pages.final_url IS 'The URL after redirects.';
COMMENT ON COLUMN raw_pages.kind IS 'sina_page, zhibo_flash or hexo_post: which parser reads it.';
COMMENT ON COLUMN raw_pages.status_code IS 'HTTP status of the answer (200 for local content).';
COMMENT ON COLUMN raw_pages.headers IS 'The answer''s HTTP headers as JSON (the charset is read from them).';
COMMENT ON COLUMN raw_pages.body IS 'The bytes exactly as fetched.';
COMMENT ON COLUMN raw_pages.body_sha256 IS 'sha256 of body.';
COMMENT ON COLUMN raw_pages.fetched_at IS 'When it was fetched.';

COMMENT ON COLUMN schema_migrations.version IS 'Migration number (the NNN of sql/NNN_name.sql).';
COMMENT ON COLUMN schema_migrations.name IS 'Migration name.';
COMMENT ON COLUMN schema_migrations.checksum IS 'sha256 of the file as applied: a changed file is refused.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When it was applied.';

COMMENT ON COLUMN stock_news.code IS 'Stock code (article_stocks.code).';
COMMENT ON COLUMN stock_news.name IS 'Its short name, from the most confident link that gives one.';
COMMENT ON COLUMN stock_news.article_id IS 'The article (articles.article_id).';
COMMENT ON COLUMN stock_news.published_at IS 'Its publication time (UTC).';
COMMENT ON COLUMN stock_news.media IS 'Its medium.';
COMMENT ON COLUMN stock_news.title IS 'Its headline.';
COMMENT ON COLUMN stock_news.url IS 'Its canonical URL, or where the item links.';
COMMENT ON COLUMN stock_news.story_id IS 'Its story (articles.story_id).';
COMMENT ON COLUMN stock_news.first_report IS 'Whether it is its story''s first report.';
COMMENT ON COLUMN stock_news.confidence IS 'The most confident way it was linked to the code (0..1).';
COMMENT ON COLUMN stock_news.vias IS 'Every way it was linked, most confident first.';
COMMENT ON COLUMN stock_news.evidence IS 'The words of the most confident link.';

COMMENT ON COLUMN stories.story_id IS 'The story: the article_id of its first-seen article.';
COMMENT ON COLUMN stories.first_article_id IS 'Its first-seen article.';
COMMENT ON COLUMN stories.first_title IS 'That article''s headline.';
COMMENT ON COLUMN stories.member_count IS 'How many stored articles tell it.';
COMMENT ON COLUMN stories.first_seen_at IS 'When its first article was stored.';
COMMENT ON COLUMN stories.last_seen_at IS 'When its latest article was stored.';
COMMENT ON COLUMN stories.first_published_at IS 'Earliest publication time among its articles.';
COMMENT ON COLUMN stories.last_published_at IS 'Latest publication time among its articles.';

COMMENT ON COLUMN story_timeline.story_id IS 'The story (articles.story_id).';
COMMENT ON COLUMN story_timeline.article_id IS 'One of its articles.';
COMMENT ON COLUMN story_timeline.published_at IS 'That article''s publication time.';
COMMENT ON COLUMN story_timeline.media IS 'Its medium.';
COMMENT ON COLUMN story_timeline.title IS 'Its headline.';
COMMENT ON COLUMN story_timeline.url IS 'Its canonical URL, or where the item links.';
COMMENT ON COLUMN story_timeline.dup_verdict IS 'How it joined the story: original, exact or near.';
COMMENT ON COLUMN story_timeline.first_report IS 'Whether it is the story''s first report.';
COMMENT ON COLUMN story_timeline.position IS 'Its place in the story by publication time (1 = earliest).';
COMMENT ON COLUMN story_timeline.reports IS 'How many articles the story has.';
