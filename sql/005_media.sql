-- Media-only articles: a video page (the body holds only the player) or a gallery/infographic (title
-- and pictures, no text) is stored as an article of its kind with an empty body, not a dead letter.

ALTER TABLE articles
    ADD COLUMN content_kind text NOT NULL DEFAULT 'text'
        CONSTRAINT articles_content_kind_check CHECK (content_kind IN ('text', 'video', 'gallery')),
    ADD COLUMN media_urls text[] NOT NULL DEFAULT '{}';

COMMENT ON COLUMN articles.content_kind IS 'What the article is: ''text'' (has body text), ''video'' (a player and no text) or ''gallery'' (pictures and no text; infographics). Media-only kinds have an empty body_text and are found by title.';
COMMENT ON COLUMN articles.media_urls IS 'Video, poster and image URLs of the article, in page order; for a video or gallery they are all its content.';
COMMENT ON COLUMN articles.kind IS 'The parser that made the article: ''sina_page'', ''zhibo_flash'' or ''hexo_post'' (see content_kind for text/video/gallery).';
