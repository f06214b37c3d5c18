"""/healthz, /readyz (each check and its 200/503) and /metrics of the real app."""

from __future__ import annotations

from pathlib import Path

from tests.bridge.web.conftest import web_app


async def test_healthz_answers_without_any_service_running(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web:
        response = await web.http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_503_naming_the_workers_until_they_run_then_200(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web:
        before = await web.http.get("/readyz")
        assert before.status_code == 503
        assert before.json()["ready"] is False
        assert before.json()["checks"] == {
            "database": "ok",
            "workers": "not running",
            "receivers": "ok",
        }
        await web.container.worker.start()
        try:
            after = await web.http.get("/readyz")
        finally:
            await web.container.worker.stop()
    assert after.status_code == 200
    assert after.json() == {
        "ready": True,
        "checks": {"database": "ok", "workers": "ok", "receivers": "ok"},
        "receivers": [],
    }


async def test_readyz_reports_an_unreachable_database_by_its_error_type(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web:
        (tmp_path / "web.db").unlink()
        (tmp_path / "web.db").mkdir()  # a directory where the database file was
        await web.container.store.close()
        response = await web.http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable: ")


async def test_metrics_are_exposed_in_the_prometheus_text_format(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web:
        web.container.metrics.job_outcome("process_hook", "done")
        response = await web.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'bridge_jobs_total{kind="process_hook",outcome="done"} 1.0' in response.text
    assert "# TYPE bridge_amojo_hook_ack_seconds histogram" in response.text
