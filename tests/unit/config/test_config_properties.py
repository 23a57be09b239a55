"""Any option value either loads or is reported as a configuration problem, never a traceback."""

import contextlib
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from broker_lag_exporter.config.settings import ConfigError, load_settings

OPTIONS = (
    "bootstrap-servers",
    "poll-interval-seconds",
    "max-data-age-seconds",
    "max-concurrent-requests",
    "group-allow",
    "topic-deny",
    "granularity",
    "shard-index",
    "listen-port",
    "jvm-url-template",
    "kube-broker-selector",
    "risk-grace-margin-seconds",
    "risk-critical-groups",
)
# Command-line values cannot hold NUL (argv is C strings), nor can the environment.
VALUES = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=30)


@settings(max_examples=40, deadline=None)
@given(values=st.dictionaries(st.sampled_from(OPTIONS), VALUES, min_size=1, max_size=4))
def test_any_values_load_or_list_every_problem(values):
    argv = [f"--{name}={value}" for name, value in values.items()]
    if "bootstrap-servers" not in values:
        argv.append("--bootstrap-servers=k:9092")
    stderr = io.StringIO()
    problems, exit_code = None, None
    try:
        with contextlib.redirect_stderr(stderr):
            load_settings(argv)
    except ConfigError as err:
        problems = str(err)
    except SystemExit as exit_:
        exit_code = exit_.code
    if problems is not None:
        assert "configuration problem(s)" in problems
        assert "Traceback" not in problems
    if exit_code is not None:
        # The command-line parser's own errors (e.g. `--kube-broker-selector=`, an empty value, is
        # an "unrecognized argument"): exit 2 with a usage line, one problem at a time.
        assert exit_code == 2
        assert ": error: " in stderr.getvalue()
