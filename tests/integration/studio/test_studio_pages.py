"""The studio's pages in headless Chromium (Selenium) on the local cloud, for what a creator sees: the create page
(brand_campaign first, every preset's cost and delivery time, style pictures, voices and music with samples,
"no music"), My videos' cards (length as "1 min 04 s", views, favourite toggle, thumbnails signed in the list,
character filter, sort by delivered length) and the Characters page (create a video with one, delete one).

No job runs: videos and characters are stored directly for the page's user; a video created from the page waits
in pull mode. The user guide's screenshots (docs/img) are taken here.
"""
from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from shared.core import layout, status
from shared.core.storage import gs_uri, upload_bytes
from shared.core.vocabulary import STYLES, VOICES
from shared.media.ffmpeg import run_ffmpeg
from tests.support import make_job, save_doc_screenshot

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
STYLE_PICTURES = Path(__file__).resolve().parents[3] / "infra" / "studio" / "web" / "img" / "styles"
PAGE_USER = "demo"  # the local user whose key config.js gives the pages
pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("pull_mode")]


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "chromium and chromium-driver missing: run make setup"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1400",
                "--mute-audio"):
        options.add_argument(arg)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def studio(local_cloud) -> str:  # type: ignore[no-untyped-def]
    return local_cloud.url_of("studio")


def open_page(driver: Any, studio: str, route: str, ready_css: str) -> Any:
    from selenium.webdriver.common.by import By

    driver.get(f"{studio}/#/{route}")
    return _wait(lambda: driver.find_elements(By.CSS_SELECTOR, ready_css), 30, ready_css)[0]


def _png_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _character(clients, name: str, description: str) -> str:  # type: ignore[no-untyped-def]
    character_id = f"c{uuid.uuid4().hex[:16]}"
    portrait = Image.open(STYLE_PICTURES / "anime.jpg")
    uri = upload_bytes(clients.storage, gs_uri(clients.settings.bucket, layout.character_portrait_path(character_id)),
                       _png_of(portrait), "image/png")
    clients.db.collection(layout.CHARACTERS).document(character_id).set(
        {"owner": PAGE_USER, "name": name, "description": description, "style": "anime", "image_uri": uri,
         "created_at": status.utcnow()})
    return character_id


def _delivered(clients, title: str, seconds: float, views: int, character_id: str,  # type: ignore[no-untyped-def]
               style: str = "anime", **files: str) -> str:
    video_id = make_job(clients, 2, style=style, owner=PAGE_USER, favourite=False, views=views,
                        planned_seconds=60, duration=seconds, character_id=character_id, title=title,
                        theme=title)
    picture = (STYLE_PICTURES / f"{style}.jpg").read_bytes()  # a stand-in thumbnail that looks like one
    thumb = upload_bytes(clients.storage, gs_uri(clients.settings.bucket, f"thumbnails/{video_id}.jpg"), picture,
                         "image/jpeg")
    status.doc_ref(clients.db, video_id).update({"status": "completed", "thumbnail_url": thumb, **files})
    return video_id


def _listed(driver: Any) -> list[str]:
    """The video ids of My videos' cards, read in one script (the list may be replaced meanwhile)."""
    ids: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('#video-list .card')].map((c) => c.dataset.videoId)")
    return ids


def test_create_page_starts_on_brand_campaign_with_costs_styles_voices_and_music(browser, studio):
    from selenium.webdriver.common.by import By

    open_page(browser, studio, "create", "#theme")
    assert browser.find_element(By.ID, "preset-brand_campaign").is_selected()
    for preset in ("quick_social", "brand_campaign", "premium_spot"):
        cell = _wait(lambda p=preset: "$" in browser.find_element(By.ID, f"cost-{p}").text
                     and browser.find_element(By.ID, f"cost-{p}"), 30, f"{preset}'s cost")
        assert "ready in ~" in cell.text, cell.text
    pictures = browser.execute_script("""
        return [...document.querySelectorAll('img.style-preview')].map((img) => img.complete && img.naturalWidth);""")
    assert len(pictures) == len(STYLES) and all(pictures), pictures
    samples = browser.execute_script("""
        return [...document.querySelectorAll('input[name=voice]')].filter((i) => i.value)
          .map((i) => [i.value, i.closest('.choice').querySelector('audio').src]);""")
    assert [v for v, _ in samples] == list(VOICES) and all(src.startswith("http") for _, src in samples)
    assert browser.find_element(By.ID, "music-none").get_attribute("value") == "none"
    previews = browser.find_elements(By.CSS_SELECTOR, "input[name=music] ~ div audio")
    assert len(previews) >= 5
    save_doc_screenshot(browser, "create-page")
    browser.execute_script("document.querySelector('input[name=voice]').closest('fieldset').scrollIntoView()")
    save_doc_screenshot(browser, "create-voices-music")


def test_a_video_created_with_a_voice_and_no_music_is_asked_for_as_such(browser, studio, pipeline):
    from selenium.webdriver.common.by import By

    open_page(browser, studio, "create", "#theme").send_keys(f"A heron {uuid.uuid4().hex[:6]} who fishes at dawn")
    for label in ("preset-quick_social", "voice-female_adult_warm", "music-none"):
        browser.find_element(By.CSS_SELECTOR, f"label[for={label}]").click()
    browser.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    _wait(lambda: "#/video/" in browser.current_url, 60, "the video page")
    doc = pipeline.doc(browser.current_url.split("#/video/", 1)[1])
    assert (doc["voice"], doc["music"], doc["preset"], doc["owner"]) == ("female_adult_warm", "none",
                                                                       "quick_social", PAGE_USER)
    browser.get("about:blank")  # stop following the job's stream


def test_my_videos_cards_show_length_views_thumbnail_and_toggle_favourite(browser, studio, clients):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    character = _character(clients, "Juno", "A lighthouse keeper with a yellow coat")
    # made longest first: newest-first and longest-first orders differ, so the sorted list is told apart
    long = _delivered(clients, "Juno and the storm", 64.4, 7, character, style="cyberpunk")
    short = _delivered(clients, "Juno at dawn", 31.0, 2, character, style="vintage")
    open_page(browser, studio, "videos", "#filter-character")
    Select(browser.find_element(By.ID, "filter-character")).select_by_value(character)
    _wait(lambda: _listed(browser) == [short, long], 30, "the filtered list, newest first")
    Select(browser.find_element(By.ID, "filter-sort")).select_by_value("duration")
    _wait(lambda: _listed(browser) == [long, short], 30, "the longest first")
    card = browser.find_element(By.CSS_SELECTOR, f"[data-video-id='{long}']")
    assert "1 min 04 s" in card.text and "7 views" in card.text, card.text
    _wait(lambda: browser.execute_script(
        "const img = arguments[0].querySelector('img.thumb'); return img && img.complete && img.naturalWidth", card),
        30, "the thumbnail")
    per_card = browser.execute_script(
        "return performance.getEntriesByType('resource').filter((e) => e.name.includes('/files')).length")
    assert per_card == 0, "a request per card for its thumbnail"
    toggle = card.find_element(By.CSS_SELECTOR, "button.fav")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    _wait(lambda: toggle.get_attribute("aria-pressed") == "true", 30, "the favourite to be saved")
    assert status.read(clients.db, long)["favourite"] is True
    save_doc_screenshot(browser, "my-videos")
    toggle.click()
    _wait(lambda: status.read(clients.db, long)["favourite"] is False, 30, "the favourite to be removed")


def test_a_character_card_creates_a_video_with_it_and_deletes_it(browser, studio, clients):
    from selenium.webdriver.common.by import By

    character = _character(clients, "Orla", "A sailmaker with silver rings")
    open_page(browser, studio, "characters", f"[data-character-id='{character}'] a.create-with")
    save_doc_screenshot(browser, "characters")
    browser.find_element(By.CSS_SELECTOR, f"[data-character-id='{character}'] a.create-with").click()
    chosen = _wait(lambda: browser.find_elements(By.ID, f"character_id-{character}"), 30, "the create page")[0]
    assert browser.current_url.endswith(f"#/create/{character}") and chosen.is_selected()
    card = open_page(browser, studio, "characters", f"[data-character-id='{character}'] button.delete")
    card.click()
    _wait(lambda: not browser.find_elements(By.CSS_SELECTOR, f"[data-character-id='{character}']"), 30,
          "the card to go")
    assert "Orla was deleted" in browser.find_element(By.ID, "character-status").text
    assert clients.db.collection(layout.CHARACTERS).document(character).get().exists is False


def test_a_delivered_video_page_plays_it_and_offers_its_downloads(browser, studio, clients, tmp_path):
    from selenium.webdriver.common.by import By

    clip = tmp_path / "final.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=270x480:r=24:d=3", "-f", "lavfi", "-i", "sine=f=330:d=3",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                str(clip)], what="fixture")
    bucket = clients.settings.bucket
    srt = "1\n00:00:00,000 --> 00:00:02,500\nA kite over the salt marsh.\n"
    files = {"final_video_url": upload_bytes(clients.storage, gs_uri(bucket, "final_videos/guide.mp4"),
                                             clip.read_bytes(), "video/mp4"),
             "srt_url": upload_bytes(clients.storage, gs_uri(bucket, "subtitles/guide.srt"), srt.encode(),
                                     "text/plain")}
    video_id = _delivered(clients, "A kite over the salt marsh", 64.4, 3, "", style="realistic", **files)
    open_page(browser, studio, f"video/{video_id}", "ul.downloads a")
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "ul.downloads a")}
    assert set(links) == {"Video (MP4)", "Thumbnail", "Subtitles (SRT)"}, links
    assert requests.get(links["Video (MP4)"], timeout=30).content == clip.read_bytes()
    assert "1 min 04 s" in browser.find_element(By.ID, "video-body").text
    save_doc_screenshot(browser, "video-page")


def test_review_before_paying_shows_the_storyboard_and_approve_starts_the_video(browser, studio, pipeline):
    from selenium.webdriver.common.by import By

    open_page(browser, studio, "create", "#theme").send_keys(f"A baker {uuid.uuid4().hex[:6]} who bakes at night")
    browser.find_element(By.CSS_SELECTOR, "label[for=preset-quick_social]").click()
    browser.find_element(By.CSS_SELECTOR, "label[for=review]").click()
    browser.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    _wait(lambda: "#/video/" in browser.current_url, 60, "the video page")
    video_id = browser.current_url.split("#/video/", 1)[1]
    assert pipeline.doc(video_id)["status"] == "awaiting_approval"
    _wait(lambda: browser.find_elements(By.ID, "storyboard-rendering"), 30, "the page to say the storyboard renders")
    pipeline.storyboard(video_id, PAGE_USER)  # rendered by the storyboard function (pull mode: the test hands it over)
    _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#review #approve"), 60, "the storyboard")
    rows = browser.find_elements(By.CSS_SELECTOR, "#storyboard-blocks tbody tr")
    assert len(rows) == pipeline.doc(video_id)["total_blocks"] and "$" in browser.find_element(By.ID, "approve").text
    browser.execute_script("document.getElementById('storyboard-preview').currentTime = 2.5")
    _wait(lambda: browser.execute_script("return document.getElementById('storyboard-preview').readyState >= 2"), 60,
          "the storyboard preview to show a frame")
    save_doc_screenshot(browser, "review")
    browser.find_element(By.ID, "approve").click()
    _wait(lambda: browser.find_elements(By.ID, "progress"), 60, "the progress view")
    assert pipeline.doc(video_id)["status"] == "script_ready"
    browser.get("about:blank")
