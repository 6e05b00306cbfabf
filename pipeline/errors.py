"""The errors a caller of the pipeline can meet, in one tree."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class ConfigError(PipelineError):
    """A setting is missing or malformed."""


class DiscoverError(PipelineError):
    """A feed could not be listed: bad JSON, an error status in the payload, an unreadable folder."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class FetchError(PipelineError):
    """A page could not be fetched."""

    def __init__(self, url: str, reason: str, *, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.retryable = retryable


class FetchTimeout(FetchError):
    """Connect or read timeout after every retry."""


class UpstreamStatusError(FetchError):
    """The server answered with a status we do not accept (after retries for 429/5xx)."""


class RobotsDisallowed(FetchError):
    """robots.txt forbids the URL for our User-Agent."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "disallowed by robots.txt", retryable=False)


class ParseError(PipelineError):
    """A page or post could not be turned into an Article."""

    def __init__(self, url: str, parser_version: str, field: str, reason: str) -> None:
        super().__init__(f"{url} [{parser_version}] field {field!r}: {reason}")
        self.url = url
        self.parser_version = parser_version
        self.field = field
        self.reason = reason


class LoadError(PipelineError):
    """The database refused a batch."""


class MigrationError(PipelineError):
    """The migrations on disk and in the database disagree."""


class SearchQueryError(PipelineError):
    """The query string or a filter cannot be searched (no letters or digits, too long, bad option)."""


class NotifyError(PipelineError):
    """An alert could not be delivered (webhook refused or unreachable, mail not sent)."""
