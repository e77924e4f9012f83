"""The store finder's map in a real browser: Leaflet served from carloop's own static files, no
request leaves the server, and with no tile server it still names cities and shows distances."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from carloop.network import service as network

pytestmark = pytest.mark.browser


def test_the_map_names_cities_and_gives_distances_without_tiles(page: Page, live_server: Any) -> None:
    def seed(session: Session) -> None:
        network.seed_sample_network(session=session)

    live_server.seed(seed)
    ours = urlparse(live_server.url).netloc
    elsewhere: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url) if urlparse(r.url).netloc != ours else None)
    response = page.goto("/stores?city=Beijing&lang=zh-CN")
    assert response is not None and response.ok
    live = page.get_by_test_id("store-map-live")
    expect(live).to_be_visible()
    expect(live).to_have_attribute("data-mode", "offline")
    expect(live.locator(".map-city", has_text="北京").first).to_be_visible()
    hit = live.locator(".map-hit").first
    expect(hit).to_contain_text("km")
    assert page.evaluate("typeof window.L") == "object"  # Leaflet loaded from /static/vendor/leaflet
    assert elsewhere == [], elsewhere
