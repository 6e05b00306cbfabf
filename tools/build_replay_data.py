"""Rebuild pipeline/replay/data/ (the replay server's recorded data set) from real pages and posts.

Inputs: tests/fixtures/article_html (six real Sina pages, real URLs in index.tsv),
tests/fixtures/hexo_posts and tools/replay_sources (real RSSHub->Hexo archive posts).
Output is deterministic: run it twice, get the same bytes.

    .venv/bin/python tools/build_replay_data.py
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bs4 import BeautifulSoup

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.identity import BEIJING, docid_from_url, parse_beijing_time, parse_iso_time, read_front_matter  # noqa: E402
from pipeline.textnorm import clean_text, repair_archive_title, split_original_title  # noqa: E402

OUT = REPO / "pipeline" / "replay" / "data"
ROLL_PAIRS = ("155:1686", "155:1687", "155:1689", "155:1690")
# Titles that put an article into the narrower lids besides 国内滚动 (1686); a rough stand-in for Sina's desk.
MACRO_WORDS = ("PMI", "LPR", "工业企业", "利润", "房地产", "投资", "CPI", "规划", "方案")
MINISTRY_WORDS = ("部门", "工信部", "商务", "规划", "方案", "国家统计局")
FINANCE_WORDS = ("期货", "证券", "银行", "LPR", "基金", "股")


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def meta(soup: BeautifulSoup, **attrs: str) -> str | None:
    tag = soup.find("meta", attrs=attrs)
    content = tag.get("content") if tag else None
    return clean_text(str(content)) if content else None


def page_time(soup: BeautifulSoup) -> datetime:
    """Visible Beijing time of a real page (what a reader and the roll ctime see)."""
    for sel in (".date-source .date", "span.date", "#pub_date", ".time-source"):
        node = soup.select_one(sel)
        when = parse_beijing_time(node.get_text()) if node else None
        if when is not None:
            return when
    when = parse_iso_time(meta(soup, property="article:published_time"))
    if when is not None:
        return when
    raise SystemExit("no publish time found")


QR_IMAGES = ("343233024.png", "kpptear5623021.png", "w256h256", "w500h500")


def roll_images(body: str) -> list[dict[str, object]]:
    """Sina's roll `images`: the first real picture (not a QR code); w as a string, h as a number, as seen."""
    for src in re.findall(r'<img[^>]+src="([^"]+)"', body):
        if any(q in src for q in QR_IMAGES) or "sinaimg.cn" not in src:
            continue
        m = re.search(r"/w(\d+)h(\d+)/", src)
        w, h = (m.group(1), int(m.group(2))) if m else ("0", 0)
        return [{"u": src if src.startswith("http") else "https:" + src, "w": w, "h": h}]
    return []


def lids_for(title: str) -> list[str]:
    lids = ["1686"]
    if any(w in title for w in MACRO_WORDS):
        lids.append("1687")
    if any(w in title for w in MINISTRY_WORDS):
        lids.append("1689")
    if any(w in title for w in FINANCE_WORDS):
        lids.append("1690")
    return lids


def recorded_pages() -> list[dict[str, object]]:
    src = REPO / "tests" / "fixtures" / "article_html"
    out = []
    for row in read_tsv(src / "index.tsv"):
        body = (src / row["file"]).read_bytes()
        soup = BeautifulSoup(body, "lxml")
        url = row["url"]
        docid = docid_from_url(url)
        assert docid, url
        h1 = soup.select_one("h1.main-title") or soup.select_one("#artibodyTitle")
        title = clean_text(h1.get_text()) if h1 else (meta(soup, property="og:title") or "")
        when = page_time(soup)
        source_node = soup.select_one(".date-source .source") or soup.select_one(".source")
        out.append(
            {
                "docid": docid,
                "url": url,
                "title": title,
                "ctime": int(when.timestamp()),
                "kind": "recorded",
                "source": f"{row['source_repo']}:{row['source_path']}@{row['source_commit'][:8]}",
                "file": f"pages/{docid.removeprefix('comos:')}.html",
                "content_type": f"text/html; charset={row['charset_declared'].lower()}",
                "media": clean_text(source_node.get_text()) if source_node else "新浪财经",
                "keywords": meta(soup, name="keywords") or "",
                "intro": (meta(soup, name="description") or "")[:120],
                "images": [],
                "page_times": [when.astimezone(BEIJING).isoformat()],
                "_bytes": body,
            }
        )
    return out


PAGE_TEMPLATE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{title_html}|新浪财经_新浪网</title>
<meta name="keywords" content="{keywords_html}">
<meta name="description" content="{intro_html}">
<meta property="og:type" content="news">
<meta property="og:title" content="{title_html}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{iso}">
<meta property="article:author" content="{media}">
<meta name="weibo: article:create_at" content="{create_at}">
<meta name="publishid" content="{doc_id}">
<meta name="sudameta" content="comment_channel:cj;comment_id:comos-{doc_id}">
<!-- newsflow replay data set: page RECONSTRUCTED around the #artibody of an archived post ({source}) -->
</head>
<body>
<div class="main-content w1240">
<h1 class="main-title">{title_html}</h1>
<div class="top-bar-wrap"><div class="top-bar"><div class="date-source">
<span class="date">{date_cn}</span>
<span class="source ent-source">{media}</span>
</div></div></div>
<div class="article-content clearfix">
<div class="article" id="artibody" data-sudaclick="blk_content">
{body}
</div>
</div>
</div>
</body>
</html>
"""


def reconstructed_pages() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    seen_titles: set[str] = set()
    sources = [
        (
            REPO / "tests" / "fixtures" / "hexo_posts",
            read_tsv(REPO / "tests" / "fixtures" / "hexo_posts" / "index.tsv"),
        ),
        (REPO / "tools" / "replay_sources", read_tsv(REPO / "tools" / "replay_sources" / "index.tsv")),
    ]
    seed = (
        REPO
        / "tests"
        / "fixtures"
        / "hexo_posts"
        / "_十四五_信息化和工业化深度融合发展规划印发，点名这些产业.md"
    )
    rows: list[tuple[Path, str]] = [
        (
            seed,
            "Rock-Candy-Tea/RSSHUB-PAGE:source/_posts/金融/新浪财经/新浪财经－国內/"
            "_十四五_信息化和工业化深度融合发展规划印发，点名这些产业.md@a7e24782",
        )
    ]
    for base, index in sources:
        for row in index:
            rows.append(
                (base / row["file"], f"{row['source_repo']}:{row['source_path']}@{row['source_commit'][:8]}")
            )
    for path, source in sorted(rows, key=lambda r: r[1]):
        front = read_front_matter(path.read_text(encoding="utf-8"))
        body = front.body.replace("&#123;", "{").replace("&#125;", "}").strip()
        # the archive wrapped #artibody's innerHTML in one <div>; the page holds the inner HTML only
        body = re.sub(r"^<div>\s*", "", body)
        body = re.sub(r"\s*</div>\s*$", "", body)
        paragraphs = [clean_text(p.get_text()) for p in BeautifulSoup(body, "lxml").find_all("p")]
        original, rest = split_original_title([p for p in paragraphs if p])
        title = original or repair_archive_title(front.text("title") or "")
        if title in seen_titles:  # same article archived twice (two RSSHub instances): one page
            continue
        seen_titles.add(title)
        when = front.published_at
        assert when is not None, path
        bj = when.astimezone(BEIJING)
        doc_id = "nfr" + hashlib.sha1(title.encode("utf-8")).hexdigest()[:12]
        url = f"https://finance.sina.com.cn/china/{bj:%Y-%m-%d}/doc-i{doc_id}.shtml"
        intro = next((p for p in rest if len(p) > 20), title)[:120]
        page = PAGE_TEMPLATE.format(
            title_html=html.escape(title),
            keywords_html=html.escape(title[:20]),
            intro_html=html.escape(intro),
            url=url,
            iso=bj.isoformat(),
            media="新浪财经",
            create_at=f"{bj:%Y-%m-%d %H:%M:%S}",
            doc_id=doc_id,
            source=html.escape(source),
            date_cn=f"{bj:%Y年%m月%d日 %H:%M}",
            body=body,
        )
        out.append(
            {
                "docid": f"comos:{doc_id}",
                "url": url,
                "title": title,
                "ctime": int(when.timestamp()),
                "kind": "reconstructed",
                "source": source,
                "file": f"pages/{doc_id}.html",
                "content_type": "text/html; charset=utf-8",
                "media": "新浪财经",
                "keywords": "",
                "intro": intro,
                "images": roll_images(body),
                "page_times": [bj.isoformat()],
                "_bytes": page.encode("utf-8"),
            }
        )
    return out


def zhibo_items(articles: list[dict[str, object]]) -> list[dict[str, object]]:
    """7x24 flashes: made-up ids and times, text = real sentences of the recorded articles."""
    by_title = {str(a["title"]): a for a in articles}
    picks = [
        # (minutes after the article's ctime, title prefix, sentence, tags, stocks)
        (
            -8,
            "倒查20年",
            "【内蒙古涉煤腐败倒查20年挽回经济损失523亿余元】内蒙古是产煤大区，截至目前，内蒙古全区共立案涉煤案件736件、1023人。",
            [{"id": 1, "name": "宏观"}],
            [],
        ),
        (
            11,
            "有色一哥",
            "【紫金矿业入股天风期货获批】天风期货注册资本及股权变更申请获中国证监会审批通过，紫金矿业为其第一大股东。",
            [{"id": 3, "name": "公司"}],
            [{"market": "cn", "symbol": "sh601899", "key": "紫金矿业"}],
        ),
        (
            2,
            "信息化和工业化深度融合",
            "【工信部发布“十四五”信息化和工业化深度融合发展规划】到2025年，全国两化融合发展指数达到105。",
            [{"id": 1, "name": "宏观"}, {"id": 2, "name": "行业"}],
            [],
        ),
    ]
    out: list[dict[str, object]] = []
    for i, (delta, prefix, text, tags, stocks) in enumerate(picks):
        art = next(a for t, a in by_title.items() if prefix in t)
        when = datetime.fromtimestamp(int(art["ctime"]), UTC) + timedelta(minutes=delta)
        flash_id = 2100000 + i
        out.append(
            {
                "id": flash_id,
                "zhibo_id": 152,
                "type": 0,
                "rich_text": text,
                "multimedia": "",
                "commentid": f"live:finance-152-{flash_id}:0",
                "compere_id": 0,
                "creator": "replay@newsflow",
                "create_time": f"{when.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}",
                "update_time": f"{when.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}",
                "docurl": str(art["url"]),
                "tag": tags,
                "ext": json.dumps(
                    {
                        "stocks": stocks,
                        "needPushWB": False,
                        "docurl": str(art["url"]),
                        "docid": str(art["docid"]),
                    },
                    ensure_ascii=False,
                ),
                "_ctime": int(when.timestamp()),
            }
        )
    return out


def main() -> int:
    articles = recorded_pages() + reconstructed_pages()
    articles.sort(key=lambda a: (-int(a["ctime"]), str(a["docid"])))
    if OUT.exists():
        shutil.rmtree(OUT / "pages", ignore_errors=True)
    (OUT / "pages").mkdir(parents=True, exist_ok=True)
    listed = []
    for art in articles:
        (OUT / str(art["file"])).write_bytes(art.pop("_bytes"))  # type: ignore[arg-type]
        art["lids"] = lids_for(str(art["title"]))
        listed.append(art)
    flashes = zhibo_items(listed)
    manifest = {
        "format": 1,
        "built_by": "tools/build_replay_data.py",
        "roll_pairs": list(ROLL_PAIRS),
        "zhibo_ids": [152],
        "articles": listed,
        "zhibo": flashes,
    }
    (OUT / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(
        f"{len(listed)} articles ({sum(a['kind'] == 'reconstructed' for a in listed)} reconstructed), "
        f"{len(flashes)} flashes -> {OUT.relative_to(REPO)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
