"""The web chat page (GET /): served offline, and driven end to end in a real headless Chromium.

The browser talks to the real app (uvicorn on 127.0.0.1, bundled corpus, extractive backend):
streamed answers, citation markers that open their source, follow-ups in one conversation,
refusals, "New conversation", the API-key prompt, and a phone-sized layout. Screenshots go to
evals/reports/screenshots/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.server.app import create_app
from assistant.settings import REPO_ROOT
from tests.live_server import live_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO_ROOT / "evals" / "reports" / "screenshots"
API_KEY = "web-page-test-key-0123456789"
WAIT_S = 20


# -- served as one offline file ---------------------------------------------------------------


def test_index_is_self_contained_html(corpus_assistant) -> None:
    with TestClient(create_app(assistant=corpus_assistant)) as client:
        page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    for marker in (
        'id="question"',
        'id="send"',
        'id="new-conversation"',
        'id="transcript"',
        'name="viewport"',
        "aria-live",
    ):
        assert marker in html, marker
    assert re.search(r"<textarea[^>]*\bid=\"question\"", html)
    assert re.search(r'<label[^>]*\bfor="question"', html), "the question box has a label"
    # Nothing fetched from elsewhere: no external scripts, styles, fonts or images.
    external = re.findall(
        r"""(?:\bsrc|\bhref)\s*=\s*["']?\s*(?:https?:)?//|@import|url\(\s*["']?\s*(?:https?:)?//""",
        html,
        flags=re.I,
    )
    assert not external, external
    assert not re.search(r"<script[^>]*\bsrc=", html, flags=re.I), "scripts are inline"
    assert not re.search(r"<link[^>]*stylesheet", html, flags=re.I), "styles are inline"


# -- a real server and a real browser ---------------------------------------------------------


def _ensure_chromium() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip(
            "chromium/chromedriver missing and apt-get is unavailable (not Debian or not root)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    assert CHROMIUM.exists() and CHROMEDRIVER.exists()


def _serve(app) -> Iterator[str]:
    with live_server(app) as url:
        yield f"{url}/"


@pytest.fixture(scope="module")
def browser_ready() -> None:
    _ensure_chromium()
    pytest.importorskip("selenium")


@pytest.fixture(scope="module")
def base_url(browser_ready, corpus_assistant) -> Iterator[str]:
    yield from _serve(create_app(assistant=corpus_assistant))


@pytest.fixture(scope="module")
def keyed_url(browser_ready, corpus_assistant) -> Iterator[str]:
    settings = corpus_assistant.settings.model_copy(update={"api_keys": [API_KEY]})
    yield from _serve(create_app(settings, corpus_assistant))


def _chrome(profile: Path, width: int, height: int, phone: bool = False):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    if phone:  # a phone: the viewport meta tag applies, touch, 2x pixels
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
        )
        driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
    return driver


@pytest.fixture
def desktop(browser_ready, tmp_path: Path):
    driver = _chrome(tmp_path / "profile", 1280, 900)
    yield driver
    driver.quit()


@pytest.fixture
def phone(browser_ready, tmp_path: Path):
    driver = _chrome(tmp_path / "profile", 390, 844, phone=True)
    yield driver
    driver.quit()


def _answers(driver) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#transcript .answer")


def _ask(driver, question: str):
    """Type the question, press Enter, wait until its answer has finished streaming."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    before = len(_answers(driver))
    box = driver.find_element(By.ID, "question")
    WebDriverWait(driver, WAIT_S).until(lambda d: box.is_enabled())
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    WebDriverWait(driver, WAIT_S).until(
        lambda d: (
            len(_answers(d)) == before + 1
            and _answers(d)[-1].get_attribute("data-state") in ("done", "error")
        )
    )
    answer = _answers(driver)[-1]
    assert answer.get_attribute("data-state") == "done", answer.text
    WebDriverWait(driver, WAIT_S).until(lambda d: box.is_enabled())  # input re-enabled
    return answer


def _screenshot(driver, name: str, full_page: bool = False) -> None:
    """Save what a person sees; `full_page` grows the window to the whole transcript first."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if not full_page:
        assert driver.save_screenshot(str(SCREENSHOTS / name))
        return
    size = driver.get_window_size()
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], min(height + chrome, 4000))
    driver.execute_script("window.scrollTo(0, 0)")
    try:
        assert driver.save_screenshot(str(SCREENSHOTS / name))
    finally:
        driver.set_window_size(size["width"], size["height"])


def _check_markdown(driver) -> None:
    """The transcript's renderer: HTML escaped first, then **bold**, `code`, lists, [n]."""
    render = "return window.StackGuide.renderMarkdown(arguments[0], arguments[1])"
    cite = [{"n": 1, "source": "corpus/a.md", "title": "A", "section": "S", "snippet": "x"}]
    html = driver.execute_script(
        render,
        '<img src=x onerror="alert(1)"> **bold** `<b>code</b>` [1] [7]\nnext\n\n- one\n- two [1]',
        cite,
    )
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "<strong>bold</strong>" in html
    assert "<code>&lt;b&gt;code&lt;/b&gt;</code>" in html
    assert html.count('class="cite" data-n="1"') == 2
    assert "[7]" in html  # no such citation: left as text
    assert "<br>next" in html
    assert "<ul><li>one</li><li>two <button" in html
    plain = driver.execute_script(render, "<script>alert(1)</script> [1]", None)
    assert plain == "<p>&lt;script&gt;alert(1)&lt;/script&gt; [1]</p>"


@pytest.mark.slow
def test_chat_in_a_desktop_browser(desktop, base_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    d = desktop
    d.get(base_url)
    assert d.title.startswith("StackGuide")
    _check_markdown(d)
    box = d.find_element(By.ID, "question")
    # Shift+Enter is a new line, not a send.
    box.send_keys("line one", Keys.SHIFT, Keys.ENTER, Keys.SHIFT, "line two")
    assert "\n" in box.get_attribute("value")
    assert not _answers(d)
    box.clear()

    first = _ask(d, "What is Fastify's killer feature?")
    assert "Schema-first" in first.find_element(By.CSS_SELECTOR, ".answer-body").text
    assert "refused" not in first.get_attribute("class")
    cites = first.find_elements(By.CSS_SELECTOR, ".answer-body .cite[data-n]")
    assert cites, first.get_attribute("innerHTML")
    sources = first.find_elements(By.CSS_SELECTOR, "ol.sources li")
    assert len(sources) >= int(max(c.get_attribute("data-n") for c in cites))
    assert not first.find_elements(By.CSS_SELECTOR, ".source-detail")
    cites[0].click()
    detail = WebDriverWait(d, WAIT_S).until(
        lambda d: first.find_element(By.CSS_SELECTOR, ".source-detail")
    )
    assert detail.is_displayed()
    assert "Fastify" in detail.text
    assert "corpus/" in detail.text  # the source path
    assert cites[0].get_attribute("aria-expanded") == "true"
    conversation = first.get_attribute("data-conversation-id")
    assert conversation

    follow_up = _ask(d, "and for Bun?")
    assert len(_answers(d)) == 2
    assert follow_up.get_attribute("data-conversation-id") == conversation
    assert re.search(r"Bun|Elysia", follow_up.text)
    assert first.find_element(By.CSS_SELECTOR, ".source-detail").is_displayed()  # still open

    refusal = _ask(d, "What's the capital of France?")
    assert "refused" in refusal.get_attribute("class")
    assert "corpus" in refusal.text.lower()
    assert "Closest sections" in refusal.text
    assert not refusal.find_elements(By.CSS_SELECTOR, ".sources, .cite")
    assert refusal.get_attribute("data-conversation-id") == conversation
    assert d.execute_script("return document.activeElement.id") == "question"
    _screenshot(d, "web-chat-desktop.png", full_page=True)

    d.find_element(By.ID, "new-conversation").click()
    WebDriverWait(d, WAIT_S).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, "#transcript > *")
    )
    assert d.find_element(By.ID, "welcome").is_displayed()
    fresh = _ask(d, "Where does Hono run?")
    assert len(_answers(d)) == 1
    assert fresh.get_attribute("data-conversation-id") not in ("", conversation)


@pytest.mark.slow
def test_chat_on_a_phone(phone, base_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = phone
    d.get(base_url)
    assert d.execute_script("return window.innerWidth") == 390  # the viewport meta applies
    box = d.find_element(By.ID, "question")
    assert float(box.value_of_css_property("font-size").removesuffix("px")) >= 16

    answer = _ask(d, "What is Fastify's killer feature?")
    assert "Schema-first" in answer.text
    answer.find_element(By.CSS_SELECTOR, ".cite").click()
    detail = WebDriverWait(d, WAIT_S).until(
        lambda d: answer.find_element(By.CSS_SELECTOR, ".source-detail")
    )
    assert "Fastify" in detail.text
    # Nothing wider than the screen; the send and new-conversation controls are on it.
    assert d.execute_script("return document.documentElement.scrollWidth") <= 390
    for control in ("send", "new-conversation"):
        rect = d.find_element(By.ID, control).rect
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= 390, (control, rect)
    d.execute_script("window.scrollTo(0, 0)")
    _screenshot(d, "web-chat-phone.png")


@pytest.mark.slow
def test_api_key_prompt_and_errors(desktop, keyed_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = desktop
    d.get(keyed_url)
    box = d.find_element(By.ID, "question")
    box.send_keys("What is Fastify's killer feature?\n")
    key_input = WebDriverWait(d, WAIT_S).until(
        lambda d: (
            d.find_element(By.ID, "api-key").is_displayed() and d.find_element(By.ID, "api-key")
        )
    )
    assert box.is_enabled()
    key_input.send_keys("wrong-key-wrong-key-wrong\n")  # refused: asked again
    WebDriverWait(d, WAIT_S).until(
        lambda d: (
            "refused" in d.find_element(By.ID, "api-key-note").text
            and d.find_element(By.ID, "api-key").is_displayed()
        )
    )
    d.find_element(By.ID, "api-key").send_keys(API_KEY + "\n")  # the question is sent again
    WebDriverWait(d, WAIT_S).until(
        lambda d: _answers(d) and _answers(d)[-1].get_attribute("data-state") == "done"
    )
    assert "Schema-first" in _answers(d)[-1].text
    assert d.execute_script("return sessionStorage.getItem('stackguide.apiKey')") == API_KEY
    assert not d.find_element(By.ID, "api-key").is_displayed()

    # A 4xx is shown in the transcript, and the question can be edited and sent again.
    d.execute_script("document.getElementById('question').value = 'x'.repeat(5000)")
    d.find_element(By.ID, "send").click()
    WebDriverWait(d, WAIT_S).until(lambda d: _answers(d)[-1].get_attribute("data-state") == "error")
    error = _answers(d)[-1]
    assert "error" in error.get_attribute("class")
    assert "couldn't take that question" in error.text or "too long" in error.text
    assert d.find_element(By.ID, "question").is_enabled()
    assert d.find_element(By.ID, "send").is_enabled()
