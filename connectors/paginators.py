"""Swappable REST paginators: page/size, offset/limit, next links, or none.

A paginator says what to request first and, given a response, what to request next (or None to
stop). Every paginator refuses to loop: a request (URL plus parameters) asked for twice, a page
whose records are identical to an earlier page's, or more than `max_pages` pages raise
`PaginationLoopError` instead of fetching forever.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from connectors.base import dotted_get
from connectors.definition import Paginator as PaginatorConfig
from connectors.errors import PaginationLoopError

Request = tuple[str, dict[str, str]]


class BasePaginator:
    """Tracks what was fetched so that a misbehaving server cannot make extraction loop."""

    def __init__(self, config: PaginatorConfig, *, source: str = "", max_pages: int = 100_000) -> None:
        self.config = config
        self.source = source
        self.max_pages = max_pages
        self.pages = 0
        self.records_seen = 0
        self._requests: set[str] = set()
        self._page_hashes: dict[str, int] = {}

    def first_request(self, url: str, params: dict[str, str]) -> Request:
        """The first page's URL and query parameters."""
        return url, dict(params)

    def next_request(self, request: Request, body: Any, records: list[Any], response_url: str) -> Request | None:
        """The next page to fetch after `request` returned `body`, or None when done."""
        return None

    def advance(self, request: Request, body: Any, records: list[Any], response_url: str) -> Request | None:
        """Check the page just fetched for loops, then decide the next request."""
        self.pages += 1
        self.records_seen += len(records)
        self._check_page(request, records)
        following = self.next_request(request, body, records, response_url)
        if following is not None:
            self._check_request(following)
        return following

    def start(self, url: str, params: dict[str, str]) -> Request:
        """Reset the loop guards and give the first request."""
        self.pages, self.records_seen = 0, 0
        self._requests.clear()
        self._page_hashes.clear()
        request = self.first_request(url, params)
        self._check_request(request)
        return request

    def _check_request(self, request: Request) -> None:
        key = _request_key(request)
        if key in self._requests:
            raise PaginationLoopError(self.source, key, f"the server sent pagination back to a page already fetched ({type(self).__name__}, after {self.pages} pages)")
        if self.pages >= self.max_pages:
            raise PaginationLoopError(self.source, key, f"more than max_pages={self.max_pages} pages; raise `max_pages` in the definition if the source is really that large")
        self._requests.add(key)

    def _check_page(self, request: Request, records: list[Any]) -> None:
        if not records:
            return
        digest = hashlib.sha256(json.dumps(records, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()
        if digest in self._page_hashes:
            raise PaginationLoopError(
                self.source, _request_key(request),
                f"page {self.pages} has exactly the records of page {self._page_hashes[digest]}; the server is ignoring the pagination parameters or looping",
            )
        self._page_hashes[digest] = self.pages


class NoPaginator(BasePaginator):
    """One request returns everything."""


class PagePaginator(BasePaginator):
    """`page` and `size` parameters; stops on an empty or short page, or once `total` records are seen."""

    def first_request(self, url: str, params: dict[str, str]) -> Request:
        page = {self.config.page_param: str(self.config.start_page), self.config.size_param: str(self.config.page_size)}
        return url, {**params, **page}

    def next_request(self, request: Request, body: Any, records: list[Any], response_url: str) -> Request | None:
        if _last_page(records, self.config.page_size, body, self.records_seen):
            return None
        url, params = request
        page = int(params[self.config.page_param]) + 1
        return url, {**params, self.config.page_param: str(page)}


class OffsetPaginator(BasePaginator):
    """`offset` and `limit` parameters; stops like the page paginator."""

    def first_request(self, url: str, params: dict[str, str]) -> Request:
        return url, {**params, self.config.offset_param: "0", self.config.size_param: str(self.config.page_size)}

    def next_request(self, request: Request, body: Any, records: list[Any], response_url: str) -> Request | None:
        if _last_page(records, self.config.page_size, body, self.records_seen):
            return None
        url, params = request
        offset = int(params[self.config.offset_param]) + len(records)
        return url, {**params, self.config.offset_param: str(offset)}


class NextLinkPaginator(BasePaginator):
    """Follows the next URL at `next_link_path` (`next`, `links.next`, `link[relation=next].url`).

    The next URL carries its own query string (cursor, page size, filters), so it is requested as is;
    relative URLs are resolved against the URL of the response that contained them.
    """

    def first_request(self, url: str, params: dict[str, str]) -> Request:
        return url, {**params, self.config.size_param: str(self.config.page_size)}

    def next_request(self, request: Request, body: Any, records: list[Any], response_url: str) -> Request | None:
        link = find_link(body, self.config.next_link_path)
        if not link:
            return None
        return urljoin(response_url, link), {}


PAGINATORS: dict[str, type[BasePaginator]] = {
    "none": NoPaginator,
    "page": PagePaginator,
    "offset": OffsetPaginator,
    "next_link": NextLinkPaginator,
}


def make_paginator(config: PaginatorConfig, *, source: str = "", max_pages: int = 100_000) -> BasePaginator:
    """The paginator the definition's `paginator.type` names."""
    return PAGINATORS[config.type](config, source=source, max_pages=max_pages)


def find_link(body: Any, path: str) -> str | None:
    """The value at a dotted path where a part may select from a list: `link[relation=next].url`."""
    value = body
    for part in path.split("."):
        name, _, selector = part.partition("[")
        value = value.get(name) if isinstance(value, dict) else None
        if selector and isinstance(value, list):
            field, _, wanted = selector.rstrip("]").partition("=")
            value = next((item for item in value if isinstance(item, dict) and str(item.get(field)) == wanted), None)
        if value is None:
            return None
    return value if isinstance(value, str) else None


def _last_page(records: list[Any], page_size: int, body: Any, records_seen: int) -> bool:
    if len(records) < page_size:  # also covers the empty page
        return True
    total = dotted_get(body, "total") if isinstance(body, dict) else None
    return isinstance(total, int) and records_seen >= total


def _request_key(request: Request) -> str:
    """One spelling per request: query parameters from the URL and the params dict, decoded and sorted."""
    url, params = request
    parts = urlsplit(url)
    query = sorted([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
