"""Shared fixtures: small archives on disk, and a CLI runner; the `browser` and `slow` markers."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from generator.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = REPO / "archives"
AS_OF = "2026-11-28"  # the sample archive's "today": its records end on 2026-11-27


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A copy of the tiny valid archive, free to break."""
    dest = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "tiny", dest)
    return dest


@pytest.fixture(scope="session")
def run() -> Callable[..., Result]:
    """Run the yidang CLI in-process; returns click's Result (exit_code, output). Session
    scope: it holds no state, and module fixtures that prepare repositories use it."""

    def _run(*args: str) -> Result:
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return _run


def seen_while_running(proc: subprocess.Popen[bytes], condition: Callable[[], bool]) -> bool:
    """Watch for ``condition`` while ``proc`` runs (a kill test's point: a folder appears, a
    branch is made); whether it was seen before the process ended."""
    while proc.poll() is None:
        if condition():
            return True
        time.sleep(0.002)
    return False


PROBLEM_LINE = re.compile(r"^(?P<where>\S+:\d+:\d+: (?:error|warning): )(?P<zh>.*?) / (?P<en>.*)$")


def english(text: str) -> str:
    """``check``'s output with each problem's Chinese taken off (``path:l:c: error: 中文 /
    English`` → ``path:l:c: error: English``): for tests about where a problem is and what
    its English says; the Chinese has tests of its own (test_check_errors.py)."""
    return "\n".join(
        m.group("where") + m.group("en") if (m := PROBLEM_LINE.match(line)) else line
        for line in text.split("\n")
    )


class _English:
    """A CLI result whose output reads as ``english`` gives it."""

    def __init__(self, result: Result):
        self.exit_code = result.exit_code
        self.output = english(result.output)


@pytest.fixture
def run_en(run: Callable[..., Result]) -> Callable[..., _English]:
    """``run``, its output's problems in English only (see ``english``)."""
    return lambda *args: _English(run(*args))


@pytest.fixture(scope="session")
def protected_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample archive built as a protected site, with booklets (built once per run)."""
    from .test_site import write_config

    work = tmp_path_factory.mktemp("protected")
    config = write_config(work, SAMPLE, booklets=True, protect=True)
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--site-dir", str(work / "site")])
    assert result.exit_code == 0, result.output
    assert "protected site" in result.output
    return work / "site"


# --- markers: `make quick` runs -m "not slow and not browser" ---------------------

# What takes more than ~2 s, by module: a test function (the calls of all its parameters
# together) or a fixture (its setup; every test that uses it is slow: for a module- or
# session-scoped one the first test pays for the build, and any of them run alone would). A test
# that uses a fixture listed here is not listed again. Seconds measured with `pytest --durations=0`
# over the whole suite (2026-11-30, the 2-core development machine, nothing else running). Under
# 2 s, for scale: truncating every file of an archive (test_robustness) 1.7 s, the font subsets 1.7 s.
SLOW: dict[str, dict[str, float]] = {
    "conftest.py": {"protected_sample": 48.6},  # the sample, protected, with booklets; in every module
    "test_access.py": {"test_cli_add_list_passwd_remove": 2.4},
    "test_booklets.py": {
        "made": 3.7,
        "test_changing_one_record_rerenders_exactly_that_booklet": 6.8,
        "test_cli_reports_rendered_and_skipped": 4.3,
        "test_cycle_collector_left_as_found": 3.3,
        "test_character_no_font_has_fails_that_booklet": 2.3,
    },
    "test_browser.py": {"site": 22.6},  # test_site's sample build, built again for this module
    "test_deploy.py": {  # nginx, and Chromium on a tiny protected site (built in 1.7 s)
        "test_nginx_config_from_the_docs_serves_the_site_over_tls": 2.9,
        "test_plain_http_lan_address_says_what_to_do": 2.4,
        "test_the_inbox_takes_new_sealed_files_and_gives_nothing_back": 3.1,
        "test_plain_http_opted_in_works_with_a_warning": 6.0,
    },
    "test_fontsubset.py": {
        "test_booklet_looks_the_same": 4.5,
        "test_character_outside_the_subset_comes_from_the_installed_font": 2.0,
    },
    "test_hostile.py": {"test_hostile_markdown_never_runs_and_the_text_survives": 2.9},
    "test_incremental.py": {  # each builds the sample two or three times
        "test_incremental_build_equals_a_clean_build": 60.7,  # 8 changes
        "test_unchanged_archive_reuses_everything": 4.0,
        "test_a_changed_mkdocs_yml_runs_mkdocs_again": 3.7,
        "test_a_lost_or_foreign_cache_gives_a_full_build": 28.3,  # 3 kinds of damage
        "test_cache_entries_are_private_and_tagged": 3.8,
        "test_a_changed_record_reaches_the_booklet_in_the_site": 5.0,
        "test_a_deleted_site_is_published_whole_again": 10.5,
        "test_a_rebuilt_site_does_not_say_which_files_the_build_wrote": 6.6,
        "test_the_build_shows_progress_once_per_student": 4.1,
    },
    "test_hostile_intake.py": {
        "run_once": 7.5,  # one inbox of 40 hostile files, a dry run, then the run
        "test_any_payload_in_a_valid_seal_and_signature": 30.0,  # Hypothesis: 30 intakes
        "test_the_property_met_records_it_took_in": 0.0,  # reads what the one above recorded
        "test_the_form_takes_today_as_the_schools_day": 8.0,  # a protected build, Chromium twice
    },
    "test_intake_interrupted.py": {  # an intake process each, killed, then run again
        "test_an_intake_killed_leaves_nothing_the_next_run_does_not_clear": 5.8,
        "test_a_build_clears_what_a_killed_intake_left": 2.5,
        "test_sigterm_while_the_work_tree_is_made_cleans_up_at_once": 2.0,
    },
    "test_intake.py": {  # a git repository of the sample each; the first also builds it twice
        "test_a_mentor_on_a_phone_seals_a_home_visit_that_reaches_the_site": 12.7,
        "test_each_refusal_says_why_and_keeps_the_file": 2.9,
        "test_a_removed_account_and_a_bad_signature_are_refused": 2.9,
        "test_two_records_of_one_type_and_day_both_survive": 2.4,
        "test_a_photo_is_prepared_as_the_archives_are": 2.3,
    },
    "test_interrupted.py": {"project": 4.0},  # then killed builds: test_a_build_killed_at_any_point 21.6
    "test_properties.py": {  # Hypothesis
        "test_any_bytes_in_a_file": 3.6,  # 5 files
        "test_any_yamlish_text_in_a_file": 3.8,  # 5 files
        "test_any_value_of_any_profile_field": 3.4,
        "test_fast_front_matter_equals_pyyaml": 6.2,
    },
    "test_declared_kind.py": {  # a kind added by declaration, end to end
        "test_page_and_booklet_show_it_in_its_words": 19.3,
        "test_sealed_taken_in_and_reviewed_and_new": 3.9,
        "protected": 3.3,
    },
    "test_office_day.py": {  # the README's day, command by command: init, intake, review, build
        "test_the_office_day_merged_on_this_pc": 30.0,
        "test_the_office_day_merged_on_the_forge": 40.0,
    },
    "test_people.py": {  # Chromium on the protected sample, at two widths
        "waiting_site": 20.0,
        "test_a_sealed_record_is_not_lost_until_it_is_sent": 6.0,
        "test_the_idle_logout_keeps_a_half_filled_form_for_its_teacher_only": 12.0,
        "test_offline_a_page_never_opened_says_it_needs_the_network_once": 4.0,
    },
    "test_protect.py": {"test_planted_script_does_not_run": 4.6},
    "test_provenance.py": {"test_build_after_a_merge_shows_the_new_commit": 2.2},
    "test_readers.py": {
        "readers_site": 3.5,
        "test_reset_remove_and_rotate_leave_old_keys_opening_nothing": 7.0,
    },
    "test_review.py": {"test_provenance_on_the_site_and_in_the_booklet": 6.0},
    "test_serve.py": {  # a `yidang serve` process each
        "test_serve_previews_on_localhost_with_a_banner": 2.2,
        "test_killed_preview_is_removed_by_the_next_build": 2.4,
    },
    "test_shared_computer.py": {"test_another_local_file_reads_nothing": 4.4},
    "test_site.py": {"site": 38.4, "test_plain_mkdocs_build_works": 2.2},
    "test_transfer.py": {  # two git repositories and a booklet
        "moved": 6.9,
        "test_bad_transfers_are_refused_and_change_nothing": 4.5,  # 5 inputs
    },
    "test_year.py": {  # a git repository of the sample each
        "rolled": 2.9,
        "test_check_is_clean_and_the_site_builds": 6.5,
        "test_bad_input_is_a_clear_error_and_changes_nothing": 4.2,  # 4 inputs
        "test_the_build_leaves_out_exactly_the_expired_files": 8.8,  # two builds with booklets
        "test_a_file_past_retention_can_still_be_archived_as_a_booklet": 6.2,
    },
}

# What a test's code (or a helper of the test package it calls) names when it drives Chromium.
BROWSER_NAMES = frozenset({"chromium", "serve_folder", "sync_playwright"})


def _names(func: object, seen: set[types.CodeType]) -> set[str]:
    """The global and attribute names a function's code uses, nested functions and the test
    package's own helpers included."""
    code = getattr(func, "__code__", None)
    if code is None or code in seen:
        return set()
    seen.add(code)
    names: set[str] = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    for name in list(names):
        helper = func.__globals__.get(name)  # type: ignore[attr-defined]
        if inspect.isfunction(helper) and helper.__module__.startswith(__package__ + "."):
            names |= _names(helper, seen)
    return names


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`browser`: the test uses a `browser` fixture (Chromium), or its code launches Playwright
    or serves a folder for it. `slow`: the test or one of its fixtures is in SLOW."""
    everywhere = SLOW["conftest.py"]
    checked: dict[str, set[str]] = {}
    for item in items:
        module = item.path.name
        if module not in checked:  # a renamed test or fixture must not drop out of SLOW unseen
            names = SLOW.get(module, {}).keys()
            missing = [n for n in names if not hasattr(getattr(item, "module", None), n)]
            missing += [n for n in everywhere if n not in globals()]
            if missing:
                raise pytest.UsageError(f"tests/conftest.py: SLOW names what {module} lacks: {missing}")
            checked[module] = names | everywhere.keys()
        fixtures = getattr(item, "fixturenames", ())
        if {getattr(item, "originalname", item.name), *fixtures} & checked[module]:
            item.add_marker(pytest.mark.slow)
        if "browser" in fixtures or _names(getattr(item, "function", None), set()) & BROWSER_NAMES:
            item.add_marker(pytest.mark.browser)
