"""The pytest plugin as a user meets it: their own test files, run by a separate pytest.

Each test writes a user's project (test files, maybe an ini) with ``pytester`` and runs
it in a subprocess, so the plugin is loaded the way users get it: through the installed
``pytest11`` entry point, never through our conftest.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from tests._spec import ROOT

BACKENDS = """
import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The user's pytest, in its own process, as they would start it."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", *args)


def user_tests(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyfile(test_user=BACKENDS + textwrap.dedent(body))


def test_a_users_tests_on_the_fixtures_pass_on_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    user_tests(
        pytester,
        """
        from coupontools_async import AsyncClient, NotFoundError
        from coupontools_async.sandbox import Sandbox


        async def test_cards_come_from_the_sandbox(coupontools_client, coupontools_sandbox):
            assert isinstance(coupontools_sandbox, Sandbox)
            assert isinstance(coupontools_client, AsyncClient)
            cards = await coupontools_client.wallet_cards.list()
            assert sorted(c.id for c in cards) == sorted(coupontools_sandbox.state.wallet.cards)


        async def test_a_user_created_in_one_test(coupontools_client, coupontools_sandbox):
            card_id = next(iter(coupontools_sandbox.state.wallet.cards))
            before = len(coupontools_sandbox.state.wallet.cards[card_id].users)
            await coupontools_client.wallet_users.create(card_id, first_name="Ann")
            assert len(coupontools_sandbox.state.wallet.cards[card_id].users) == before + 1


        async def test_is_gone_in_the_next_one(coupontools_sandbox):
            from coupontools_async.sandbox import Sandbox

            fresh = Sandbox.seeded(seed=0, sessions=200)
            card_id = next(iter(fresh.state.wallet.cards))
            assert len(coupontools_sandbox.state.wallet.cards[card_id].users) == len(
                fresh.state.wallet.cards[card_id].users
            )


        async def test_api_errors_reach_the_user(coupontools_client):
            with pytest.raises(NotFoundError):
                await coupontools_client.coupons.get(campaign="cam_doesnotexist")
        """,
    )
    result = run(pytester)
    result.assert_outcomes(passed=8)
    assert "[asyncio]" not in result.stdout.str()  # -q: one line, no per-test noise


def test_the_readme_plugin_example_passes_in_a_users_project(pytester: pytest.Pytester) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"<!-- pytest-plugin-example -->\n```python\n(.*?)```", readme, re.S)
    pytester.makepyfile(test_readme_example=example)
    # anyio's own anyio_backend runs each test on every installed backend: asyncio, trio.
    run(pytester).assert_outcomes(passed=4)


def test_a_failing_user_test_fails_the_run_with_its_assertion(pytester: pytest.Pytester) -> None:
    user_tests(
        pytester,
        """
        async def test_expects_no_cards(coupontools_client):
            cards = await coupontools_client.wallet_cards.list()
            assert cards == [], "the user's own assertion"
        """,
    )
    result = run(pytester)
    result.assert_outcomes(failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*the user's own assertion*"])


def test_the_client_is_closed_after_the_test(pytester: pytest.Pytester) -> None:
    user_tests(
        pytester,
        """
        kept = []


        async def test_keeps_the_client(coupontools_client):
            kept.append(coupontools_client)
            assert not coupontools_client.is_closed


        def test_it_was_closed():
            assert len(kept) == 2 and all(client.is_closed for client in kept)
        """,
    )
    run(pytester).assert_outcomes(passed=3)


def test_the_seed_comes_from_the_ini_the_flag_and_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncoupontools_seed = 5\ncoupontools_sessions = 30\n")
    user_tests(
        pytester,
        """
        def test_ini(coupontools_sandbox):
            assert coupontools_sandbox.seed == 5
            assert len(coupontools_sandbox.state.coupons.sessions) == 30


        def test_flag_beats_ini(coupontools_sandbox):
            assert coupontools_sandbox.seed == 11


        @pytest.mark.coupontools(seed=9, sessions=10)
        def test_marker_beats_both(coupontools_sandbox):
            assert coupontools_sandbox.seed == 9
            assert len(coupontools_sandbox.state.coupons.sessions) == 10
        """,
    )
    run(pytester, "-k", "not flag").assert_outcomes(passed=2)
    run(pytester, "--coupontools-seed=11", "-k", "flag or marker").assert_outcomes(passed=2)


def test_the_same_seed_gives_the_same_data_in_every_test(pytester: pytest.Pytester) -> None:
    user_tests(
        pytester,
        """
        seen = []


        @pytest.mark.parametrize("n", range(3))
        def test_data(coupontools_sandbox, n):
            seen.append(sorted(coupontools_sandbox.state.coupons.sessions))


        def test_all_equal():
            assert len(seen) == 3 and all(codes == seen[0] for codes in seen)
        """,
    )
    run(pytester).assert_outcomes(passed=4)


def test_faults_from_the_ini_reach_the_client_as_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncoupontools_faults = 1.0:503\n")
    user_tests(
        pytester,
        """
        from coupontools_async import RetryPolicy, ServerError


        async def test_every_call_fails(coupontools_sandbox):
            async with coupontools_sandbox.client(retry=RetryPolicy(max_retries=0)) as ct:
                with pytest.raises(ServerError):
                    await ct.wallet_cards.list()
            assert coupontools_sandbox.faults.injected["503"] == 1


        @pytest.mark.coupontools(faults=None)
        async def test_marker_turns_them_off(coupontools_client):
            assert await coupontools_client.wallet_cards.list()


        @pytest.mark.coupontools(faults={"rate": 1.0, "kinds": ["refuse"]})
        async def test_marker_mapping(coupontools_sandbox):
            from coupontools_async import APIConnectionError

            async with coupontools_sandbox.client(retry=RetryPolicy(max_retries=0)) as ct:
                with pytest.raises(APIConnectionError):
                    await ct.wallet_cards.list()
        """,
    )
    run(pytester).assert_outcomes(passed=6)


def test_latency_from_the_flag_and_the_marker_is_set_on_the_sandbox(
    pytester: pytest.Pytester,
) -> None:
    user_tests(
        pytester,
        """
        def answer_delay(sandbox):
            return sandbox.faults.decide("wallet_cards_list").delay


        def test_flag(coupontools_sandbox):
            assert answer_delay(coupontools_sandbox) == 0.25


        @pytest.mark.coupontools(latency=(0.5, 0.75))
        def test_marker_range(coupontools_sandbox):
            assert 0.5 <= answer_delay(coupontools_sandbox) <= 0.75
        """,
    )
    run(pytester, "--coupontools-latency=0.25").assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--coupontools-faults=2:503"], "", "--coupontools-faults: '2:503' is not RATE:KIND"),
        (["--coupontools-faults=0.5:teapot"], "", "unknown fault kinds ['teapot']"),
        (["--coupontools-seed=-1"], "", "--coupontools-seed: '-1' is not a whole number"),
        (["--coupontools-latency=fast"], "", "'fast' is not SECONDS or LOW-HIGH"),
        (["--coupontools-latency=0.3-0.1"], "", "'0.3-0.1' is not SECONDS"),
        (["--coupontools-latency=inf"], "", "'inf' is not SECONDS"),
        ([], "coupontools_faults = 503", "ini coupontools_faults: '503' is not RATE:KIND"),
    ],
)
def test_a_bad_option_stops_the_run_before_any_test_with_what_is_wrong(
    pytester: pytest.Pytester, args: list[str], ini: str, message: str
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    user_tests(pytester, "def test_never_runs():\n    raise AssertionError('ran')\n")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "ran" not in result.stdout.str()


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("seed=-3", "seed=...): -3 is not a whole number"),
        ("faults='0.5:nope'", "unknown fault kinds ['nope']"),
        ("faults=[{'kinds': ['503']}]", "is not a mapping of Faults.inject arguments with a rate"),
        ("latency='soon'", "'soon' is not SECONDS"),
        ("colour='red'", "unknown arguments ['colour']"),
    ],
)
def test_a_bad_marker_errors_that_test_with_what_is_wrong(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    user_tests(
        pytester,
        f"""
        @pytest.mark.coupontools({marker})
        def test_bad(coupontools_sandbox):
            pass


        def test_others_still_run(coupontools_sandbox):
            pass
        """,
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    assert message in result.stdout.str()


def test_the_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    user_tests(
        pytester,
        """
        @pytest.mark.coupontools(seed=1)
        def test_marked():
            pass
        """,
    )
    run(pytester, "--strict-markers").assert_outcomes(passed=1)


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    user_tests(pytester, "def test_wants_it(coupontools_sandbox):\n    pass\n")
    result = run(pytester, "-p", "no:coupontools")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'coupontools_sandbox' not found*"])


def test_loading_the_plugin_does_not_import_the_sandbox_or_the_client() -> None:
    code = (
        "import sys, coupontools_async.testing; "
        "print(sorted(m for m in sys.modules if m.startswith('coupontools_async.sandbox')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_plugin_is_registered_through_the_installed_entry_point() -> None:
    from importlib.metadata import entry_points

    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "coupontools"]
    assert plugin.value == "coupontools_async.testing"
