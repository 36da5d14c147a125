"""Real headless Chromium (Debian's chromium + chromedriver, installed by scripts/ensure_browser.sh)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


@contextmanager
def chromium(width: int = 1440, height: int = 1400) -> Iterator[webdriver.Chrome]:
    """A headless Chromium driven by the system chromedriver (never downloads one)."""
    driver_path = shutil.which("chromedriver")
    browser_path = shutil.which("chromium")
    if not driver_path or not browser_path:
        raise RuntimeError(
            "chromium / chromedriver missing: run scripts/ensure_browser.sh (scripts/test.sh does)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.set_window_size(width, height)  # headless caps the first window at the default screen size
    try:
        yield driver
    finally:
        driver.quit()


def page_text(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def capture(
    driver: webdriver.Chrome,
    url: str,
    path: Path,
    expect: list[str],
    settle: float = 2.0,
    timeout: float = 90.0,
    full_height: int | None = None,
) -> str:
    """Open ``url``, wait until every text in ``expect`` shows and the page is quiet, save a PNG; return the text."""
    driver.get(url)
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page_text(driver)
        if "Something went wrong" in text:  # a UI that read a file while the pipeline wrote it: reload
            time.sleep(2)
            driver.refresh()
            continue
        busy = driver.find_elements(
            By.CSS_SELECTOR, "[data-testid='stStatusWidget'], [data-testid='stSpinner']"
        )
        if all(e in text for e in expect) and not busy:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"{url}: never showed {expect}; it shows:\n{text[:3000]}")
    for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        button.click()  # Dagster's one-off "join the community" dialog would cover the lineage
    time.sleep(settle)  # let charts finish drawing
    if full_height:
        driver.set_window_size(driver.get_window_size()["width"], full_height)
        time.sleep(1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return page_text(driver)
