"""Replay server throughput over loopback (one client thread): roll API pages/s and article pages/s."""

from __future__ import annotations

import time

import requests

from pipeline.replay import ReplayServer, manifest


def main(seconds: float = 3.0) -> None:
    with ReplayServer() as srv, requests.Session() as http:
        urls = [srv.url_for(a["url"]) for a in manifest()]
        for label, make in (
            ("roll API page (num=20)", lambda i: (srv.base_url + "/api/roll/get", {"pageid": 155, "lid": 1686,
                                                                                 "num": 20, "page": 1 + i % 2})),
            ("article page", lambda i: (urls[i % len(urls)], None)),
        ):  # fmt: skip
            n, start, size = 0, time.perf_counter(), 0
            while time.perf_counter() - start < seconds:
                url, params = make(n)
                size += len(http.get(url, params=params, timeout=10).content)
                n += 1
            took = time.perf_counter() - start
            print(f"{label:<24} {n / took:8.0f} req/s  {size / took / 1e6:7.1f} MB/s")


if __name__ == "__main__":
    main()
