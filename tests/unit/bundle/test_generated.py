"""Generated copies (deploy/base's PrometheusRule, RBAC and dashboards) match their sources."""

from bundle.__main__ import main
from bundle.render import BASE_DIR, RBAC, render


def test_every_generated_file_is_up_to_date() -> None:
    stale = [str(path) for path, text in render().items() if not path.is_file() or path.read_text() != text]
    assert stale == [], "run `python -m bundle`"
    assert main(["--check"]) == 0


def test_deploy_base_copies_rbac_verbatim_below_a_header() -> None:
    copy = (BASE_DIR / "rbac.yaml").read_text()
    header, _, body = copy.partition("\n")
    assert header.startswith("# Generated from deploy/rbac.yaml")
    assert body == RBAC.read_text()
