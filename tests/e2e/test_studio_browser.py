"""The studio's web pages in a real browser (headless Chromium driven by Selenium) on the local cloud.

One real job: created from the page, followed to 100 %, played with subtitles, favourited and found
under the favourites filter; the QA report, My videos, Characters and Settings pages are visited too.
Every page is saved as a screenshot in test-artifacts/studio/.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "studio"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
THEME = "A paper boat that sails across a rainy city"
JOB_SECONDS = 600
PAGE_USER = "demo"  # the local user whose key the local cloud's config.js gives the pages

pytestmark = pytest.mark.timeout(900)


def _wait(check: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """The first truthy result of `check`, polled until `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian's packages; Selenium Manager never downloads anything."""
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "chromium and chromium-driver missing: run make setup"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1500",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(arg)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look for a browser to download
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def studio(local_cloud, pipeline) -> str:  # type: ignore[no-untyped-def]
    """The studio's URL; the pipeline runs by itself (Pub/Sub pushes)."""
    pipeline.use_push()
    return local_cloud.url_of("studio")


def open_page(driver: Any, studio: str, route: str, ready_css: str) -> Any:
    """Load a route of the studio and wait until `ready_css` is on the page; that element."""
    from selenium.webdriver.common.by import By

    driver.get(f"{studio}/#/{route}")
    return _wait(lambda: driver.find_elements(By.CSS_SELECTOR, ready_css), 30, ready_css)[0]


def screenshot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def error_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".error") if e.text)


@pytest.fixture(scope="module")
def made(browser, studio, pipeline) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A video created from the Create page and followed there until its progress bar reads 100 %."""
    from selenium.webdriver.common.by import By

    theme = open_page(browser, studio, "create", "#theme")
    theme.send_keys(THEME)
    browser.find_element(By.CSS_SELECTOR, "label[for=style-anime]").click()
    browser.find_element(By.CSS_SELECTOR, "label[for=preset-quick_social]").click()
    _wait(lambda: "$" in browser.find_element(By.ID, "cost-quick_social").text, 30, "the preset's estimated cost")
    screenshot(browser, "01-create")
    browser.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    _wait(lambda: "#/video/" in browser.current_url or error_text(browser), 60, "the video page")
    assert "#/video/" in browser.current_url, error_text(browser)
    video_id = browser.current_url.split("#/video/", 1)[1]
    seen: list[int] = []

    def progress() -> bool:
        bars = browser.find_elements(By.ID, "progress")
        value = int(bars[0].get_attribute("aria-valuenow")) if bars else None
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
            if len(seen) == 2:  # a moment while it renders
                screenshot(browser, "02-progress")
        return value == 100 or bool(error_text(browser))

    try:
        _wait(progress, JOB_SECONDS, "the progress bar to reach 100 %", every=0.5)
    except AssertionError as exc:
        job = pipeline.doc(video_id)
        raise AssertionError(f"{exc}; the page showed {seen}, the job is {job['status']} {job.get('error')}") from None
    return {"video_id": video_id, "seen": seen,
            "progress_text": browser.find_element(By.ID, "progress-text").text}


def test_progress_is_followed_live_up_to_100_percent(made, browser):
    assert made["seen"][-1] == 100, error_text(browser)
    assert made["seen"][0] < 100, "the page showed the job before it was done"
    assert made["seen"] == sorted(made["seen"]) and len(made["seen"]) >= 3, made["seen"]
    assert "done" in made["progress_text"] and "est. $" in made["progress_text"]


def test_the_finished_video_plays_with_subtitles_and_counts_a_view(made, browser, pipeline):
    from selenium.webdriver.common.by import By

    _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "video#player track"), 60, "the player")
    started = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const video = document.getElementById("player");
        video.textTracks[0].mode = "showing";
        video.muted = true;
        video.play().then(() => done(null), (err) => done(String(err)));
    """)
    assert started is None, started
    _wait(lambda: browser.execute_script("const v = document.getElementById('player'), t = v.textTracks[0];"
                                         "return v.currentTime > 0.5 && t.cues && t.cues.length > 0"), 60,
          "the video to play with its subtitles loaded")
    state = browser.execute_script("""
        const video = document.getElementById("player");
        const track = video.textTracks[0];
        return {time: video.currentTime, ready: video.readyState, error: video.error && video.error.code,
                kind: track.kind, cues: track.cues ? track.cues.length : 0,
                firstCue: track.cues && track.cues.length ? track.cues[0].text : ""};
    """)
    screenshot(browser, "03-player")
    assert state.get("error") is None, state
    assert state["time"] > 0.5 and state["ready"] >= 2, state
    assert state["kind"] == "subtitles" and state["cues"] >= 3 and state["firstCue"].strip(), state
    _wait(lambda: pipeline.api("GET", f"/videos/{made['video_id']}", user_id=PAGE_USER).json()["views"] >= 1, 30,
          "the view to be counted")


def test_the_qa_report_is_shown(made, browser, pipeline, tmp_path):
    from selenium.webdriver.common.by import By

    report = _wait(lambda: browser.find_elements(By.ID, "qa-report"), 30, "the QA report")[0]
    browser.execute_script("arguments[0].scrollIntoView()", report)
    screenshot(browser, "04-qa-report")
    assert "passed" in report.find_element(By.ID, "qa-title").text
    rows = [r.text for r in report.find_elements(By.CSS_SELECTOR, "tbody tr")]
    stored = json.loads(pipeline.download(pipeline.doc(made["video_id"])["qa_report_url"],
                                          tmp_path / "qa.json").read_text())
    names = [check["name"] for check in stored["checks"]]  # the stored report, read past the page
    assert len(rows) == len(names) and all(row.startswith(name) for row, name in zip(rows, names))


def _listed_ids(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [c.get_attribute("data-video-id") for c in driver.find_elements(By.CSS_SELECTOR, "#video-list .card")]


def _favourites_only(driver: Any, studio: str) -> list[str]:
    """Open My videos, tick "Favourites only" and return the listed video ids once the list reloads."""
    from selenium.webdriver.common.by import By

    open_page(driver, studio, "videos", "#video-list > li")
    driver.execute_script("document.getElementById('video-list').replaceChildren()")  # tell reloads apart
    driver.find_element(By.CSS_SELECTOR, "label[for=filter-favourites]").click()
    _wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#video-list > li"), 30, "the filtered list")
    return _listed_ids(driver)


def test_favourite_then_found_under_the_favourites_filter(made, browser, studio):
    from selenium.webdriver.common.by import By

    assert made["video_id"] not in _favourites_only(browser, studio)
    open_page(browser, studio, f"video/{made['video_id']}", "#favourite").click()
    button = browser.find_element(By.ID, "favourite")
    _wait(lambda: button.get_attribute("aria-pressed") == "true", 30, "the favourite to be saved")
    assert _favourites_only(browser, studio) == [made["video_id"]]
    card = browser.find_element(By.CSS_SELECTOR, f"[data-video-id='{made['video_id']}']")
    _wait(lambda: browser.execute_script(
        "const img = arguments[0].querySelector('img.thumb'); return img && img.complete && img.naturalWidth",
        card), 30, "the thumbnail")
    screenshot(browser, "05-my-videos-favourites")
    assert "★" in card.text and " s · completed" in card.text


def test_characters_page_creates_and_lists_a_character(browser, studio):
    from selenium.webdriver.common.by import By

    open_page(browser, studio, "characters", "#character-form").find_element(By.ID, "character-name").send_keys("Ada")
    browser.find_element(By.ID, "character-description").send_keys("A cheerful inventor with brass goggles")
    browser.find_element(By.CSS_SELECTOR, "#character-form button[type=submit]").click()
    card = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#character-list [data-character-id]")
                 or error_text(browser), 60, "the new character")
    assert not isinstance(card, str), card
    assert "Ada" in card[0].text
    character_id = card[0].get_attribute("data-character-id")
    _wait(lambda: browser.execute_script("const img = arguments[0].querySelector('img.portrait');"
                                         "return img && img.complete && img.naturalWidth", card[0]),
          30, "the portrait")
    screenshot(browser, "06-characters")
    open_page(browser, studio, "create", "#theme")
    picker = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "input[name=character_id]:not([value=''])"),
                   30, "the character picker")
    assert picker[0].get_attribute("value") == character_id


def test_settings_page_connects_with_the_local_key(browser, studio):
    from selenium.webdriver.common.by import By

    open_page(browser, studio, "settings", "#settings-form button").click()
    status = _wait(lambda: browser.find_element(By.ID, "settings-status").text or error_text(browser), 30,
                   "the connection check")
    screenshot(browser, "07-settings")
    assert status.startswith(f"Connected as {PAGE_USER}"), status


UNLABELLED_CONTROLS = """
    return [...document.querySelectorAll("input, select, textarea, button, audio, video")]
      .filter((el) => el.type !== "hidden" && !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                      && !(el.tagName === "BUTTON" && el.textContent.trim()))
      .map((el) => el.outerHTML.slice(0, 120));
"""


@pytest.mark.parametrize("route, ready", [("create", "#theme"), ("videos", "#filter-sort"),
                                          ("characters", "#character-name"), ("settings", "#api-url")])
def test_every_control_is_labelled_and_the_page_fits_a_phone(browser, studio, route, ready):
    open_page(browser, studio, route, ready)
    assert browser.execute_script(UNLABELLED_CONTROLS) == []
    browser.set_window_size(390, 844)
    try:
        open_page(browser, studio, route, ready)
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        screenshot(browser, f"08-phone-{route}")
    finally:
        browser.set_window_size(1200, 1500)
    assert overflow <= 0, f"{route} scrolls sideways by {overflow} px on a phone"
