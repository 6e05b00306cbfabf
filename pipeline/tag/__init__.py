"""Policy-document tagging: explainable rules driven by a versioned taxonomy data file."""

from pipeline.tag.tagger import TAGGER_VERSION, tag_article, tag_with, tagger_version
from pipeline.tag.taxonomy_loader import Taxonomy, compile_taxonomy, load_taxonomy

__all__ = [
    "TAGGER_VERSION",
    "Taxonomy",
    "compile_taxonomy",
    "load_taxonomy",
    "tag_article",
    "tag_with",
    "tagger_version",
]
