"""The web page's logic in Streamlit's AppTest: fields re-validate, errors show, preview = generator."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.ui.preview import preview, sample_of
from app.ui.scenario import default_scenario, parse_scenario, scenario_toml, validate, with_value
from core.exceptions import ConfigError
from generator.config import load_config
from generator.run import Generation
from infra.process import free_port

PAGE = Path(__file__).parents[4] / "app" / "ui" / "page.py"


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAKEHOUSE_UI__PREVIEW_SUBSCRIBERS", "200")
    # A port nothing listens on, even beside a running stack: the Operations tab's "down" case.
    monkeypatch.setenv("LAKEHOUSE_MONITORING__PROMETHEUS__PORT", str(free_port()))
    app = AppTest.from_file(str(PAGE), default_timeout=60)
    return app.run()


def _alerts(app: AppTest) -> list[str]:
    return [e.value for e in app.error] + [s.value for s in app.success]


def test_the_default_scenario_is_valid(page: AppTest) -> None:
    assert not page.exception
    assert "Scenario valid" in _alerts(page)


def test_a_bad_subscriber_count_shows_the_field_and_its_range(page: AppTest) -> None:
    page.number_input(key="field:subscribers").set_value(5).run()
    errors = [e.value for e in page.error]
    assert any(e.startswith("subscribers:") and "greater than or equal to 10" in e for e in errors), errors
    assert "Scenario valid" not in _alerts(page)
    page.number_input(key="field:subscribers").set_value(500).run()  # fixed: valid again
    assert "Scenario valid" in _alerts(page)


def test_a_check_across_fields_names_its_field() -> None:
    scenario = with_value(default_scenario(), "incidents.simbox_sims", 1000)
    result = validate(with_value(scenario, "subscribers", 100), "Africa/Algiers")
    assert not result.ok and result.errors


def test_the_saved_toml_is_what_the_cli_loads(tmp_path: Path) -> None:
    scenario = with_value(with_value(default_scenario(), "subscribers", 1234), "seed", 9)
    path = tmp_path / "scenario.toml"
    path.write_text(scenario_toml(scenario))
    config = load_config(path)
    assert (config.subscribers, config.seed) == (1234, 9)
    assert parse_scenario(path.read_text()) == scenario


def test_garbage_toml_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_scenario("subscribers = = 3")


def test_the_preview_counts_equal_the_generators_on_the_same_sample() -> None:
    config = load_config(seed=11, subscribers=5000, days=3)
    result = preview(config, 300)
    generation = Generation(sample_of(config, 300))
    rows = sum(batch.num_rows for batch, _ in generation.batches())
    assert result.sample_rows == rows > 0
    assert result.by_type == dict(generation.report.by_type)
    assert sum(result.weekly["events"].to_pylist()) <= rows
    assert result.estimated_rows == round(rows * (5000 / 300))
    assert 0 < sum(result.regions["events"].to_pylist()) <= rows  # a defect may name no known cell


def test_every_tab_renders_with_no_service_running(page: AppTest) -> None:
    assert [t.label for t in page.tabs] == ["Configure", "Preview", "Run", "Live stream", "Operations"]
    assert not page.exception
    assert any("stream-job: stopped" in c.value for c in page.caption)
    assert any(m.label == "Expected events" for m in page.metric)  # the preview ran
    # No Prometheus: the Operations tab names its address and how to start it.
    assert any("Prometheus at http://127.0.0.1:" in w.value and "make up" in w.value for w in page.warning)
