"""The /ui pages in a real headless Chromium (Debian's chromium and chromium-driver, driven by
selenium; nothing downloaded at run time), after a demo-like flow on a real MLflow 3 server:
v1 becomes champion, a rollback with no previous champion goes dead, v2 is promoted over v1;
then the pages show the registry's champion, each version's verdict and its validation report
as an HTML table, the events filtered by status, and the dead rollback replayed from its page
(signed in with the API token) ends done, recorded as a ui action. A serve bound to a
non-loopback address answers 401 without the token. Screenshots of each page, at 1280 px and
at phone width, are written to build/screenshots/ (the README's images are made from them)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from deltalake import write_deltalake
from mlflow import MlflowClient

from mlops_hooks.functions.demo.processes import start_serve_process
from tests.conftest import webhook_env
from tests.support.http import HTTP
from tests.support.mlflow_models import (
    WEAK_COLUMNS,
    log_and_register,
    policy_with_holdout,
    version_with_alias,
    weak_classifier,
)
from tests.support.processes import Proc, cli, wait_for

TOKEN = "ui-browser-test-token"
SHOTS = Path(os.environ.get("MLOPS_HOOKS_SCREENSHOTS", "build/screenshots"))
POLICY = """
models:
  - name: "ui-*"
    checks:
      loads: {}
      signature: {}
      predictions: {}
      metrics: {thresholds: {roc_auc: {min: 0.6}}, evaluator: builtin}
    holdout: {uri: HOLDOUT, label: Churn, positive_label: "Yes"}
    comparison: {metric: roc_auc, resamples: 300}
    promotion: {mode: auto}
"""

pytestmark = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="no chromium/chromedriver: `make test` installs them (apt)",
)


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(
        options=options, service=Service(executable_path=shutil.which("chromedriver"))
    )
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def text_of(driver, selector: str) -> str:
    """The element's text, or "" while the page it is on is still being replaced (a click
    that navigates leaves the old page's elements stale for a moment). Chromium may say so
    as an untyped inspector error, "Node with given id does not belong to the document",
    when the element was found just before the old document went (seen with Chromium 156)."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )
    from selenium.webdriver.common.by import By

    try:
        return driver.find_element(By.CSS_SELECTOR, selector).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""
    except WebDriverException as exc:
        if "does not belong to the document" not in str(exc.msg):
            raise
        return ""


def shot(driver, name: str) -> None:
    """A full-page screenshot at 1280 px and one at phone width (390 px)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, suffix in ((1280, ""), (390, "-phone")):
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, 700), 4000))
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, 700), 4000))
        driver.save_screenshot(str(SHOTS / f"ui-{name}{suffix}.png"))
    driver.set_window_size(1280, 900)


def test_the_monitoring_pages_in_a_real_browser(
    mlflow_server: Proc, validating_serve, churn, tmp_path: Path, browser
) -> None:
    from selenium.webdriver.common.by import By

    train, holdout_csv, full_model = churn
    weak_columns, weak_model = WEAK_COLUMNS, weak_classifier(train)
    policy = policy_with_holdout(tmp_path, POLICY, holdout_csv)
    serve = validating_serve(MLOPS_HOOKS_POLICY=policy, MLOPS_HOOKS_API_TOKEN=TOKEN)
    client = MlflowClient(tracking_uri=mlflow_server.url)
    name = f"ui-{uuid.uuid4().hex[:6]}"

    v1 = log_and_register(mlflow_server.url, name, weak_model, train[weak_columns], client=client)
    wait_for(lambda: version_with_alias(client, name) == v1, 120, "v1 to become champion")
    # the CLI writes to serve's own ledger: a rollback with no previous champion goes dead
    env = webhook_env(mlflow_server, tmp_path / "state-0", MLOPS_HOOKS_POLICY=policy)
    failed = cli("rollback", name, env=env, cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout
    v2 = log_and_register(mlflow_server.url, name, full_model, train, client=client)
    wait_for(lambda: version_with_alias(client, name) == v2, 120, "v2 to be promoted over v1")

    # what a drift check and two landings of labels would have written beside serve
    tables = tmp_path / "state-0" / "tables" / name
    checks = pd.to_datetime(["2026-11-20T03:00Z", "2026-11-21T03:00Z"])
    write_deltalake(
        str(tables / "monitoring"),
        pd.DataFrame(
            {
                "feature": ["tenure", "MonthlyCharges"] * 2,
                "psi": [0.02, 0.05, 0.31, 0.12],
                "status": ["ok", "ok", "drift", "warn"],
                "checked_at": checks.repeat(2),
            }
        ),
    )
    write_deltalake(
        str(tables / "live_metrics"),
        pd.DataFrame(
            {
                "model": name,
                "score_date": ["2026-11-20", "2026-11-20", "2026-11-21", "2026-11-21"],
                "version": [v1, v2, v1, v2],
                "arm": ["champion", "shadow", "champion", "shadow"],
                "rows": 500,
                "served_rows": [500, 0, 500, 0],
                "labelled_rows": 480,
                "roc_auc": [0.79, 0.83, 0.77, 0.84],
                "computed_at": pd.Timestamp("2026-11-22T06:00Z"),
            }
        ),
    )

    # models: the champion the registry's alias names
    browser.get(f"{serve.url}/ui")
    row = browser.find_element(By.XPATH, f"//tr[th/a[text()='{name}']]")
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[0] == f"v{v2}" and cells[2] == f"v{v1}", cells  # champion, previous
    assert "promote" in cells[5], cells
    shot(browser, "models")

    # a model: each version's verdict, the validation report as a real table
    row.find_element(By.TAG_NAME, "a").click()  # navigates: wait for the page it lands on
    versions = wait_for(
        lambda: browser.find_elements(
            By.XPATH, "//h2[text()='Versions']/following::table[1]//tbody/tr"
        ),
        20,
        "the model page's versions",
    )
    verdicts = {
        r.find_element(By.TAG_NAME, "th").text: r.find_elements(By.TAG_NAME, "td")[0].text
        for r in versions
    }
    assert verdicts == {f"v{v2}": "passed", f"v{v1}": "passed"}, verdicts
    section = browser.find_element(By.ID, f"v{v2}")
    report = section.find_element(By.XPATH, ".//h3[text()='Validation']/following-sibling::div[1]")
    headers = [h.text for h in report.find_elements(By.XPATH, ".//table/thead//th")]
    assert headers[:2] == ["check", "result"], headers
    assert report.find_elements(By.CSS_SELECTOR, "svg.mark.ok")  # marks drawn, not emoji
    plot = section.find_element(By.CSS_SELECTOR, "img[alt='champion vs challenger']")
    drawn = "return arguments[0].complete && arguments[0].naturalWidth"
    wait_for(lambda: browser.execute_script(drawn, plot), 20, "the ROC plot from MLflow")
    for chart in ("drift", "live"):  # drawn by the vendored Vega-Lite under the page's CSP
        wait_for(
            lambda chart=chart: browser.find_elements(By.CSS_SELECTOR, f"#chart-{chart} svg path"),
            20,
            f"the {chart} chart",
        )
    legend = browser.find_element(By.ID, "chart-live").text
    assert f"v{v1}" in legend and f"v{v2}" in legend, legend
    shot(browser, "model")

    # events: filtered by status
    browser.get(f"{serve.url}/ui/events?status=dead")
    dead = browser.find_elements(By.XPATH, "//table//tbody/tr")
    assert len(dead) == 1 and "action" in dead[0].text, [r.text for r in dead]
    shot(browser, "events")
    dead_id = dead[0].find_element(By.TAG_NAME, "a").text

    # Replay: signed in with the token, from the dead event's page
    browser.get(f"{serve.url}/ui/events/{dead_id}")
    assert not browser.find_elements(By.XPATH, "//button[starts-with(text(), 'Replay')]")
    browser.get(f"{serve.url}/ui/login")
    browser.find_element(By.NAME, "token").send_keys(TOKEN)
    browser.find_element(By.NAME, "name").send_keys("ann")
    browser.find_element(By.XPATH, "//button[text()='Sign in']").click()
    wait_for(lambda: "signed in as ann" in text_of(browser, "header"), 20, "the signed-in page")
    browser.get(f"{serve.url}/ui/events/{dead_id}")
    browser.find_element(By.XPATH, "//button[starts-with(text(), 'Replay')]").click()
    # the click navigates (POST, then 303 to the event's page): wait for the page it lands on
    wait_for(lambda: "Replay requested" in text_of(browser, ".notice"), 20, "the replay's notice")

    def status() -> str:
        browser.get(f"{serve.url}/ui/events/{dead_id}")
        return browser.find_element(By.XPATH, "//th[text()='status']/following-sibling::td").text

    wait_for(lambda: status().startswith("done"), 60, "the replayed rollback to end done")
    assert version_with_alias(client, name) == v1  # the rollback, carried out this time
    shot(browser, "event")
    listed = HTTP.get(
        f"{serve.url}/events",
        params={"kind": "action"},
        headers={"authorization": f"Bearer {TOKEN}"},
    ).json()
    replays = [e for e in listed if e["task"] == "replay"]
    assert [(e["source"], e["user"], e["status"]) for e in replays] == [("ui", "ann", "done")]


def test_pages_need_the_token_off_loopback(tmp_path: Path) -> None:
    env = {
        "MLOPS_HOOKS_STATE_DIR": str(tmp_path / "state"),
        "MLOPS_HOOKS_API_TOKEN": TOKEN,
        "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": "not-used-here",
        "MLOPS_HOOKS_SWEEP_SECONDS": "0",
    }
    serve = start_serve_process("serve-public", tmp_path, env, 0, "--host", "0.0.0.0")
    try:
        for path in ("/ui", "/ui/events", "/ui/events/ev_x"):
            assert HTTP.get(serve.url + path).status_code == 401, path
        with_token = HTTP.get(serve.url + "/ui", headers={"authorization": f"Bearer {TOKEN}"})
        assert with_token.status_code == 200
    finally:
        serve.stop()
